package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/tre-go/tre/internal/armfirewall"
	"github.com/tre-go/tre/internal/azcred"
	"github.com/tre-go/tre/internal/cosmos"
	"github.com/tre-go/tre/internal/firewallfile"
	"github.com/tre-go/tre/internal/keyvault"
	"github.com/tre-go/tre/internal/secretfile"
	"github.com/tre-go/tre/internal/servicebus"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

// openAdapters opens the store, the queues and the secret store: the Azure
// adapters when their settings are given, the embedded ones otherwise.
func (m *Main) openAdapters(ctx context.Context) error {
	credential := m.credential

	if m.Config.Azure() {
		cc := cosmos.Config{Endpoint: m.Config.CosmosEndpoint, Database: m.Config.CosmosDatabase, Key: m.Config.CosmosKey,
			TracingProvider: m.telemetry.Azure()}
		if cc.Key == "" {
			c, err := credential()
			if err != nil {
				return err
			}
			cc.Credential = c
		}
		if !m.Config.CosmosVerifyTLS {
			cc.Transport = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // opted in: local Cosmos-protocol server
		}
		// Not reached yet: connectInBackground connects it after the
		// handler listens.
		store, err := cosmos.New(cc)
		if err != nil {
			return err
		}
		m.store, m.cosmos = store, store
		m.closers = append(m.closers, store.Close)

		var q *servicebus.Queue
		if m.Config.ServiceBusConn != "" {
			q, err = servicebus.NewFromConnectionString(m.Config.ServiceBusConn, &azservicebus.ClientOptions{})
		} else {
			c, cerr := credential()
			if cerr != nil {
				return cerr
			}
			q, err = servicebus.New(m.Config.ServiceBusNS, c, nil)
		}
		if err != nil {
			return err
		}
		q.SetTracing(m.telemetry.Provider())
		m.queue, m.serviceBus = q, q
		m.closers = append(m.closers, q.Close)
	} else {
		db, err := sqlite.Open(ctx, m.Config.DataDir)
		if err != nil {
			return err
		}
		m.closers = append(m.closers, db.Close)
		m.store = sqlite.NewStore(db)
		q := sqlite.NewQueue(db, sqlite.QueueOptions{LockDuration: m.Config.LockDuration, MaxDeliveryCount: m.Config.MaxDelivery})
		m.queue = q
		m.atomic = q // the store and the queue share transactions
		m.closers = append(m.closers, q.Close)
	}

	if m.Config.SecretStore == "keyvault" {
		c, err := credential()
		if err != nil {
			return err
		}
		kv, err := keyvault.New(m.Config.KeyVaultURL, c, &policy.ClientOptions{TracingProvider: m.telemetry.Azure()})
		if err != nil {
			return err
		}
		m.secrets = kv
	} else {
		s, err := secretfile.Open(m.Config.DataDir)
		if err != nil {
			return err
		}
		m.secrets = s
	}
	return nil
}

// credential is the Azure identity of the handler, made once when an
// adapter first needs it.
func (m *Main) credential() (azcore.TokenCredential, error) {
	if m.cred == nil {
		cred, err := azcred.New(m.Config.ManagedIdentityID)
		if err != nil {
			return nil, err
		}
		m.cred = cred
	}
	return m.cred, nil
}

// firewallAdapter builds the firewall service's adapter: the Azure
// Firewall Policy, a JSON file, or none (the service is off).
func (m *Main) firewallAdapter() (tre.Firewall, error) {
	switch m.Config.Firewall {
	case "azure":
		cred, err := m.credential()
		if err != nil {
			return nil, err
		}
		b, err := armfirewall.New(m.Config.FirewallPolicy, cred, m.armOptions())
		if err != nil {
			return nil, err // not a nil *Backend in a non-nil interface
		}
		return b, nil
	case "file":
		return &firewallfile.Backend{Path: m.Config.FirewallFile}, nil
	}
	return nil, nil
}

// armOptions are the options of the ARM clients (the firewall policy,
// Cost Management): their spans.
func (m *Main) armOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{TracingProvider: m.telemetry.Azure()}}
}

// leaseHolder names this instance in the firewall's lease document.
func leaseHolder() string {
	holder, _ := os.Hostname()
	if id := os.Getenv("WEBSITE_INSTANCE_ID"); id != "" {
		holder = id
	}
	return fmt.Sprintf("%s/%d", holder, os.Getpid())
}

func (m *Main) adapterNames() string {
	names := []string{"store=sqlite", "queue=sqlite"}
	if m.Config.Azure() {
		names = []string{"store=cosmos", "queue=servicebus"}
	}
	return strings.Join(append(names, "secrets="+m.Config.SecretStore), ",")
}
