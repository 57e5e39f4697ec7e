# Every role assignment of the TRE core, in one place. Each says why it is
# needed; nothing is granted "just in case". Two identities:
#   id-api-<tre_id>        the Function App (tre-handler and the Functions host)
#   id-vmss-<tre_id>       the Resource Processor VM (the agent, and the bundles
#                          it runs with ARM_USE_MSI)
# and the deployer (whoever runs Terraform), for the scripts.
#
# Data-plane roles are scoped to the single queue, container, database or
# vault they are for. The core's data services refuse keys (Cosmos DB local
# auth off, Service Bus local auth off, storage shared keys off), so a
# management role that can list keys gains no data access. The exception is
# Porter's MongoDB API account (modules/mongo), which Porter can only reach
# with its key; that key is in the Key Vault.
#
# The processor has what AzureTRE grants its processor identity
# (core/terraform/resource_processor/vmss_porter/main.tf): Contributor and
# User Access Administrator on the subscription, Key Vault Administrator on
# the core vault, AcrPull, Service Bus send and receive, blob data on the
# bundle state; the data roles are narrowed here to what each is for.

locals {
  # Built-in role names (Azure's, stable across tenants).
  sb_sender   = "Azure Service Bus Data Sender"
  sb_receiver = "Azure Service Bus Data Receiver"

  # Cosmos DB Built-in Data Contributor: read and write items, read
  # container metadata; it cannot create or delete containers or databases
  # (Terraform creates them, modules/cosmos).
  cosmos_data_contributor = "00000000-0000-0000-0000-000000000002"
}

# ---------------------------------------------------------------- the API --

# The configuration store: every resource, template, operation and lease.
# Scoped to the AzureTRE database, not the account.
resource "azurerm_cosmosdb_sql_role_assignment" "api_store" {
  resource_group_name = azurerm_resource_group.core.name
  account_name        = module.cosmos.account_name
  role_definition_id  = "${module.cosmos.account_id}/sqlRoleDefinitions/${local.cosmos_data_contributor}"
  principal_id        = azurerm_user_assigned_identity.api.principal_id
  scope               = "${module.cosmos.account_id}/dbs/${module.cosmos.database_name}"
}

# Service Bus, per queue:
#   workspacequeue   send: each operation step is a request to the processor;
#                    receive: the admin dead-letter view peeks, replays and
#                    discards the requests' dead letters.
#   deploymentstatus receive: the deployment-status function (Functions
#                    trigger, identity-based connection ServiceBusConnection);
#                    send: replaying a dead-lettered status message re-sends it.
#   airlock-status-changed send: the airlock's status changes that have work
#                    for its processor; receive: the airlock-status-changed
#                    function (the same connection), and the dead-letter view.
# Service Bus has no narrower built-in roles than these two.
resource "azurerm_role_assignment" "api_queues" {
  for_each = {
    "workspacequeue-send"            = { queue = "workspacequeue", role = local.sb_sender }
    "workspacequeue-receive"         = { queue = "workspacequeue", role = local.sb_receiver }
    "deploymentstatus-receive"       = { queue = "deploymentstatus", role = local.sb_receiver }
    "deploymentstatus-send"          = { queue = "deploymentstatus", role = local.sb_sender }
    "airlock-status-changed-send"    = { queue = "airlock-status-changed", role = local.sb_sender }
    "airlock-status-changed-receive" = { queue = "airlock-status-changed", role = local.sb_receiver }
  }
  scope                            = module.servicebus.queue_ids[each.value.queue]
  role_definition_name             = each.value.role
  principal_id                     = azurerm_user_assigned_identity.api.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# The airlock's notifications: the handler sends an event per status change
# to the topic; notifiers (email, Teams) subscribe with their own identity.
resource "azurerm_role_assignment" "api_airlock_notification" {
  scope                            = module.servicebus.airlock_notification_topic_id
  role_definition_name             = local.sb_sender
  principal_id                     = azurerm_user_assigned_identity.api.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# The airlock's storage accounts of the core (modules/airlock): the
# handler's functions create each request's container, copy its files from
# stage to stage and delete them, and sign links with user delegation keys
# of the account (generateUserDelegationKey is in these roles). Storage
# Blob Data Contributor everywhere but the import in-progress account,
# where Defender writes its verdict as a blob index tag: reading tags is in
# Storage Blob Data Owner only. Each scoped to its account. (The accounts
# inside each workspace are granted by the workspace's bundle.)
resource "azurerm_role_assignment" "api_airlock_storage" {
  for_each                         = module.airlock.account_ids
  scope                            = each.value
  role_definition_name             = each.key == "import_in_progress" ? "Storage Blob Data Owner" : "Storage Blob Data Contributor"
  principal_id                     = azurerm_user_assigned_identity.api.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# Costs: the cost routes query Cost Management for the subscription's costs
# (Cost Management Reader) and list its resource groups by TRE tag, to
# attribute untagged resources to their group (Reader), as AzureTRE's API
# does with its identity.
resource "azurerm_role_assignment" "api_costs" {
  for_each                         = toset(["Cost Management Reader", "Reader"])
  scope                            = "/subscriptions/${var.subscription_id}"
  role_definition_name             = each.key
  principal_id                     = azurerm_user_assigned_identity.api.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# Sensitive template properties: the handler stores them as secrets on create
# and update, and deletes them with the resource. Officer is the narrowest
# built-in role that can set and delete secrets (no keys, no certificates).
resource "azurerm_role_assignment" "api_vault" {
  scope                            = module.keyvault.id
  role_definition_name             = "Key Vault Secrets Officer"
  principal_id                     = azurerm_user_assigned_identity.api.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# The Functions host's own storage (AzureWebJobsStorage with the identity).
# Azure's documentation ("Connecting to host storage with an identity")
# names, for a host without blob triggers or Durable Functions (ours has
# timers, HTTP and a Service Bus trigger):
#   Storage Blob Data Owner: the host creates its containers and keeps its
#     keys, timer schedules and singleton locks in blobs;
#   Storage Table Data Contributor: the host persists its diagnostic events
#     in tables.
# No queue or file role: only blob triggers and Durable Functions use queues,
# and a dedicated plan has no Azure Files content share. Scoped to the
# host's account only.
resource "azurerm_role_assignment" "api_host_storage" {
  for_each = toset([
    "Storage Blob Data Owner",
    "Storage Table Data Contributor",
  ])
  scope                            = module.storage.host_account_id
  role_definition_name             = each.key
  principal_id                     = azurerm_user_assigned_identity.api.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# The firewall service writes and deletes the rule collection groups it owns
# (TRE_FIREWALL_GROUP_PREFIX) in the core's Firewall Policy, and its rules
# refer to the core's IP groups. No built-in role is that narrow (Network
# Contributor could change the firewall, the VNet and every route), so a
# custom role, assignable in the core resource group only.
resource "azurerm_role_definition" "firewall_rules_writer" {
  name        = "TRE firewall rules writer (${var.tre_id})"
  scope       = azurerm_resource_group.core.id
  description = "Read the TRE's Firewall Policy, write and delete its rule collection groups, and use its IP groups in rules."

  permissions {
    actions = [
      "Microsoft.Network/firewallPolicies/read",
      "Microsoft.Network/firewallPolicies/ruleCollectionGroups/read",
      "Microsoft.Network/firewallPolicies/ruleCollectionGroups/write",
      "Microsoft.Network/firewallPolicies/ruleCollectionGroups/delete",
      "Microsoft.Network/ipGroups/read",
      "Microsoft.Network/ipGroups/join/action",
    ]
  }

  assignable_scopes = [azurerm_resource_group.core.id]
}

# That role, for the handler, on the core resource group (the policy's and
# the IP groups').
resource "azurerm_role_assignment" "api_firewall" {
  scope                            = azurerm_resource_group.core.id
  role_definition_id               = azurerm_role_definition.firewall_rules_writer.role_definition_resource_id
  principal_id                     = azurerm_user_assigned_identity.api.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# ----------------------------------------------------- the processor VM --

# Service Bus, per queue:
#   workspacequeue   receive: accept sessions, renew locks, complete, abandon
#                    and dead-letter requests.
#   deploymentstatus send: start, heartbeat and final status reports, and the
#                    agent's own heartbeats.
resource "azurerm_role_assignment" "processor_queues" {
  for_each = {
    "workspacequeue-receive" = { queue = "workspacequeue", role = local.sb_receiver }
    "deploymentstatus-send"  = { queue = "deploymentstatus", role = local.sb_sender }
  }
  scope                            = module.servicebus.queue_ids[each.value.queue]
  role_definition_name             = each.value.role
  principal_id                     = azurerm_user_assigned_identity.processor.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# Bundles' Terraform state (tfstate_* parameters; azurerm backend with
# use_azuread_auth): read, write and lease state blobs. The tfstate container
# only.
resource "azurerm_role_assignment" "processor_state" {
  scope                            = module.storage.container_scopes["tfstate"]
  role_definition_name             = "Storage Blob Data Contributor"
  principal_id                     = azurerm_user_assigned_identity.processor.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# The agent's package (processor-vm.tar.gz), which cloud-init and
# `tre-processor-setup update` download with the VM's identity. Read only,
# that container only.
resource "azurerm_role_assignment" "processor_package" {
  scope                            = module.storage.container_scopes["processor"]
  role_definition_name             = "Storage Blob Data Reader"
  principal_id                     = azurerm_user_assigned_identity.processor.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# Porter pulls the bundles (az acr login, then the invocation images).
resource "azurerm_role_assignment" "processor_registry" {
  scope                            = module.registry.id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_user_assigned_identity.processor.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# The core vault, as AzureTRE grants it (Key Vault Administrator): the agent
# reads sensitive template properties (the request's SecretRefs); Porter's
# azure.keyvault plugin reads its storage's connection string and the
# aad_auth credentials and writes sensitive bundle parameters and outputs;
# and bundles keep more than secrets there: shared services write their
# admin passwords, the certificates shared service imports certificates
# that Nexus and others read, customer-managed-key bundles create keys.
# Secrets Officer covers secrets only.
resource "azurerm_role_assignment" "processor_vault" {
  scope                            = module.keyvault.id
  role_definition_name             = "Key Vault Administrator"
  principal_id                     = azurerm_user_assigned_identity.processor.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# Bundles deploy workspaces and shared services: each creates and deletes its
# own resource group and whatever the bundle's Terraform declares (VNets
# peered with the core, storage, vaults, VMs, private endpoints in the core's
# subnets and DNS zones), so the scope is the subscription. It gives no
# data-plane access to the core's services.
resource "azurerm_role_assignment" "processor_bundles" {
  scope                            = "/subscriptions/${var.subscription_id}"
  role_definition_name             = "Contributor"
  principal_id                     = azurerm_user_assigned_identity.processor.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# Bundles create role assignments, which Contributor cannot: the workspace
# bundle gives the processor Key Vault Administrator on the workspace's
# vault (so that later bundles can write its secrets) and the workspace's
# identities their storage and Service Bus roles; workspace services give
# researchers' and owners' groups their roles on what they deploy (Azure ML
# Data Scientist, FHIR Contributor, Storage Blob Data Contributor, ...); user
# resources give VMs AcrPull. AzureTRE grants its processor User Access
# Administrator on the subscription for this. With Contributor, that makes
# the identity as powerful as Owner there: it runs only the TRE's own
# bundles, from the TRE's registry, on a VM nobody logs into.
resource "azurerm_role_assignment" "processor_role_assignments" {
  scope                            = "/subscriptions/${var.subscription_id}"
  role_definition_name             = "User Access Administrator"
  principal_id                     = azurerm_user_assigned_identity.processor.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# ------------------------------------------------------------ the deployer --

# scripts/deploy.sh uploads the processor's package (az storage blob upload
# --auth-mode login).
resource "azurerm_role_assignment" "deployer_package" {
  scope                = module.storage.container_scopes["processor"]
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = data.azurerm_client_config.current.object_id
}

# Terraform writes the secrets the core needs into the vault (secrets.tf:
# Porter's storage connection string, the aad_auth values).
resource "azurerm_role_assignment" "deployer_vault" {
  scope                = module.keyvault.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

# scripts/register-bundle.sh publishes bundles (porter publish after
# az acr login).
resource "azurerm_role_assignment" "deployer_registry" {
  scope                = module.registry.id
  role_definition_name = "AcrPush"
  principal_id         = data.azurerm_client_config.current.object_id
}
