// Package azcred gives the programs their Azure identity, with which they
// reach Cosmos DB, Service Bus, Key Vault and the Firewall Policy: the
// user-assigned managed identity named by its client id (the Function
// App's, the Resource Processor VM's), or, when none is named, the default
// credential chain (environment, workload identity, managed identity, the
// Azure CLI's login), which is what a developer's machine has.
package azcred

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// New returns the credential of the user-assigned managed identity
// clientID, or the default credential chain when clientID is empty.
// Nothing is contacted until a token is asked for.
func New(clientID string) (azcore.TokenCredential, error) {
	var cred azcore.TokenCredential
	var err error
	if clientID != "" {
		cred, err = azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
			ID: azidentity.ClientID(clientID)})
	} else {
		cred, err = azidentity.NewDefaultAzureCredential(nil)
	}
	if err != nil {
		return nil, fmt.Errorf("azure credential: %w", err)
	}
	return cred, nil
}
