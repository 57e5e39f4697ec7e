package main

import (
	"context"
	"path/filepath"

	"github.com/tre-go/tre/internal/airlock"
	"github.com/tre-go/tre/internal/azblobstore"
	"github.com/tre-go/tre/internal/scanstub"
	"github.com/tre-go/tre/internal/tre"
)

// airlockService builds the airlock on its storage and scanner adapters:
// Azure Storage with the managed identity (an account per stage) and
// Defender's verdicts, or one account with a key (Azurite under make run)
// and the scanner stand-in or none. Without storage the service answers
// 503 saying what is missing, and the rest of the API works.
func (m *Main) airlockService() (*airlock.Service, tre.Blobs, error) {
	cfg := m.Config.Airlock
	layout := airlock.Layout{TREID: m.Config.TREID}
	ac := airlock.Config{Layout: layout, RequiredApprovals: cfg.RequiredApprovals, LinkExpiry: cfg.LinkExpiry,
		ScanLimit: cfg.ScanLimit, ProcessingLimit: cfg.ProcessingLimit}
	opts := airlock.Options{Log: m.Log.With("component", "airlock"), Audit: m.audit}
	var store *azblobstore.Store
	var err error
	switch cfg.Storage {
	case "azure":
		cred, cerr := m.credential()
		if cerr != nil {
			return nil, nil, cerr
		}
		store, err = azblobstore.New(azblobstore.Config{AccountEndpoint: "https://{account}.blob." + cfg.EndpointSuffix + "/",
			Credential: cred, PingAccount: layout.CoreAccounts()[0]})
	case "endpoint":
		store, err = azblobstore.New(azblobstore.Config{Endpoint: cfg.BlobEndpoint, AccountName: cfg.BlobAccount, AccountKey: cfg.BlobKey})
	default:
		ac.Unavailable = "The airlock has no storage (TRE_AIRLOCK_STORAGE is off): locally, make run starts Azurite " +
			"when Node.js 20+ is installed; in Azure, set TRE_AIRLOCK_STORAGE=azure."
		return airlock.New(m.store, nil, nil, m.queue, m.lifecycle, m.roles, ac, opts), nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var scanner tre.Scanner
	switch cfg.Scanner {
	case "defender":
		scanner = &azblobstore.DefenderScanner{Store: store}
	case "stand-in":
		scanner = &scanstub.Scanner{Blobs: store}
		m.Log.Warn("the airlock's malware scanner is the stand-in: it finds only the EICAR test string and scans for nothing else")
	}
	return airlock.New(m.store, store, scanner, m.queue, m.lifecycle, m.roles, ac, opts), store, nil
}

// notificationLog is the local consumer of the airlock's notification
// topic: it appends each event to TRE_DATA_DIR/airlock-notifications.jsonl,
// what an email or Teams notifier would receive.
func (m *Main) notificationLog() *airlock.NotificationLog {
	return &airlock.NotificationLog{Queue: m.queue, Path: filepath.Join(m.Config.DataDir, "airlock-notifications.jsonl"),
		Log: m.Log.With("component", "airlock-notifications")}
}

// airlockHealth is the health report's entry of the airlock's storage.
func airlockHealth(b tre.Blobs) func(ctx context.Context) error {
	return b.Ping
}
