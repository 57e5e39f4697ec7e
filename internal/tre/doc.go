// Package tre is the domain of the Azure Trusted Research Environment (TRE)
// control plane: its types, status values, errors and ports. It imports only
// the standard library; adapters implement its ports, and only the
// programs' main packages wire adapters together.
//
// # The system
//
// A TRE gives researchers isolated workspaces on Azure. Each workspace is an
// instance of a workspace template; inside it run workspace services, and
// inside those, per-user user resources. Shared services serve every
// workspace. Every template is a versioned Porter bundle plus a JSON Schema
// of its parameters (Template).
//
// Admins call an HTTP API (package api), served by the custom-handler program
// (handlers/) that the Azure Functions host forwards /api/... requests to. A
// mutation of a resource validates the request against its template,
// records the desired state in the configuration store and becomes an
// Operation of ordered steps, each sent to the Resource Processor on a
// queue; the processor runs the bundle and reports back on a status queue.
// The wire formats and status values are AzureTRE's, so its clients and
// bundles keep working.
//
// # Ports
//
// Every port of the system is declared here, next to the types it carries:
// Store (the configuration store), Queue (session queues, with its parts
// Sender and DeadLetterQueue for the code that only sends or only reads
// dead letters), Secrets, Runner (bundle actions), Firewall (rule
// collection groups of a firewall policy), Authenticator (bearer tokens
// to callers) and CostSource (costs by TRE tag; one adapter, Azure Cost
// Management, or none: the embedded mode has no cost source and says so).
// Adapters are named after their technology (sqlite, cosmos, servicebus,
// keyvault, secretfile, porter, localrunner, armfirewall, firewallfile,
// auth, costmanagement) and assert the port they implement; each port with
// more than one adapter has one conformance suite (storetest, queuetest,
// firewalltest). A consumer may declare a smaller interface for the subset
// of a port it uses, but no package declares a port of its own.
//
// # Errors
//
// Every error that a caller may branch on is an *Error with a Code. The API
// maps codes to HTTP statuses in one table and answers problem+json with
// the error's Message (and the Field at fault); an error without a code is
// internal, logged with its chain and shown to the client as a generic text.
//
// # The configuration store
//
// Store is a small document store shaped after the Cosmos DB SQL API:
// collections (AzureTRE's containers) of JSON documents, each with an etag
// that changes on every write. Create fails on an existing id; Replace and
// Delete take the etag the caller read and fail with
// CodePreconditionFailed if the document changed since. That is the only
// concurrency primitive: every read-modify-write in the control plane is
// "read, change, replace with the etag, retry on a stale etag". Query takes
// conditions on fields (equal, not equal, in, not in, prefix) with typed
// equality, so the SQLite and Cosmos DB adapters answer the same. Resources
// are never removed: they are marked deleted and the queries leave them out.
// The conformance suite in internal/storetest holds every adapter to these
// rules, including 100 racing writers on one document.
//
// # Templates
//
// A template version's document id is derived from its kind, name and
// version, so two registrations of one version race on one id and the
// store's Create picks the winner (409 for the other). Which version of a
// name is current is held by one small pointer document per name
// (TemplateName), changed with its etag, so "exactly one current version"
// cannot be broken by two admins racing or by a crash half-way; a name
// without a pointer has its first registered version as current. Admins can
// move current and deprecate versions through the API; a deprecated version
// keeps serving its resources but cannot be used for new ones.
//
// # Identity
//
// Callers present RS256 bearer tokens. TRE-level roles (TREAdmin, TREUser)
// come from the token's roles claim and the user id from its oid claim. Keys
// come from Entra ID (OIDC discovery and JWKS) in Azure, or from a local dev
// issuer whose key lives in the data directory when no tenant is configured.
// Workspace-level roles (WorkspaceOwner, WorkspaceResearcher,
// AirlockManager) are assignments kept in the store, per workspace.
//
// # Resources and operations
//
// A Resource carries the properties the admin gave, the system properties
// the API computed, and the outputs the bundle reported; DeploymentStatus
// follows the latest step that ran on it. Status values per action are
// AzureTRE's (see StatusesFor); Phase orders them so that status ingestion
// can refuse to move a step backwards. Every accepted change of a resource
// first snapshots its previous state as a ResourceHistoryItem.
package tre
