# The core of a TRE: everything a TRE admin deploys once, before registering
# bundles. Workspaces and shared services are deployed later by the Resource
# Processor from bundles (templates/), into their own resource groups.

data "azurerm_client_config" "current" {}

locals {
  tags = merge(var.tags, { tre_id = var.tre_id })
}

resource "azurerm_resource_group" "core" {
  name     = "rg-${var.tre_id}"
  location = var.location
  tags     = local.tags
}

# One identity per program, each with only its own role assignments
# (roles.tf). User-assigned, so that they exist before the resources that use
# them and survive their replacement. AzureTRE's names: its bundles look
# them up (the workspace bundle gives id-vmss-<tre_id> its vault).
resource "azurerm_user_assigned_identity" "api" {
  name                = "id-api-${var.tre_id}"
  location            = var.location
  resource_group_name = azurerm_resource_group.core.name
  tags                = local.tags
}

resource "azurerm_user_assigned_identity" "processor" {
  name                = "id-vmss-${var.tre_id}"
  location            = var.location
  resource_group_name = azurerm_resource_group.core.name
  tags                = local.tags
}

module "network" {
  source              = "./modules/network"
  tre_id              = var.tre_id
  location            = var.location
  resource_group_name = azurerm_resource_group.core.name
  core_address_space  = var.core_address_space
  firewall_private_ip = module.firewall.private_ip
  tags                = local.tags
}

module "firewall" {
  source              = "./modules/firewall"
  tre_id              = var.tre_id
  location            = var.location
  resource_group_name = azurerm_resource_group.core.name
  subnet_id           = module.network.firewall_subnet_id
  sku_tier            = var.firewall_sku_tier
  zones               = var.availability_zones
  source_prefixes = {
    # AzureTRE's IP group names (ipg-<key>): its templates refer to them
    # (source_ip_groups_in_core).
    "web-app"            = module.network.subnet_prefixes["functions"]
    "resource-processor" = module.network.subnet_prefixes["processor"]
    shared               = module.network.subnet_prefixes["shared"]
  }
  processor_egress_fqdns = var.processor_egress_fqdns
  tags                   = local.tags
}

module "monitoring" {
  source              = "./modules/monitoring"
  tre_id              = var.tre_id
  location            = var.location
  resource_group_name = azurerm_resource_group.core.name
  retention_days      = var.log_retention_days
  tags                = local.tags
}

module "cosmos" {
  source              = "./modules/cosmos"
  tre_id              = var.tre_id
  location            = var.location
  resource_group_name = azurerm_resource_group.core.name
  endpoints_subnet_id = module.network.endpoints_subnet_id
  dns_zone_id         = module.network.private_dns_zone_ids["cosmos"]
  tags                = local.tags
}

module "mongo" {
  source              = "./modules/mongo"
  tre_id              = var.tre_id
  location            = var.location
  resource_group_name = azurerm_resource_group.core.name
  endpoints_subnet_id = module.network.endpoints_subnet_id
  dns_zone_id         = module.network.private_dns_zone_ids["mongo"]
  tags                = local.tags
}

module "servicebus" {
  source              = "./modules/servicebus"
  tre_id              = var.tre_id
  location            = var.location
  resource_group_name = azurerm_resource_group.core.name
  endpoints_subnet_id = module.network.endpoints_subnet_id
  dns_zone_id         = module.network.private_dns_zone_ids["sb"]
  tags                = local.tags
}

module "keyvault" {
  source              = "./modules/keyvault"
  tre_id              = var.tre_id
  location            = var.location
  resource_group_name = azurerm_resource_group.core.name
  tenant_id           = data.azurerm_client_config.current.tenant_id
  deployer_ip_ranges  = var.deployer_ip_ranges
  endpoints_subnet_id = module.network.endpoints_subnet_id
  dns_zone_id         = module.network.private_dns_zone_ids["vault"]
  tags                = local.tags
}

module "registry" {
  source              = "./modules/registry"
  tre_id              = var.tre_id
  location            = var.location
  resource_group_name = azurerm_resource_group.core.name
  deployer_ip_ranges  = var.deployer_ip_ranges
  endpoints_subnet_id = module.network.endpoints_subnet_id
  dns_zone_id         = module.network.private_dns_zone_ids["registry"]
  tags                = local.tags
}

module "storage" {
  source              = "./modules/storage"
  tre_id              = var.tre_id
  location            = var.location
  resource_group_name = azurerm_resource_group.core.name
  deployer_ip_ranges  = var.deployer_ip_ranges
  endpoints_subnet_id = module.network.endpoints_subnet_id
  dns_zone_id         = module.network.private_dns_zone_ids["blob"]
  table_dns_zone_id   = module.network.private_dns_zone_ids["table"]
  tags                = local.tags
}

module "airlock" {
  source                  = "./modules/airlock"
  tre_id                  = var.tre_id
  location                = var.location
  resource_group_name     = azurerm_resource_group.core.name
  endpoints_subnet_id     = module.network.endpoints_subnet_id
  dns_zone_id             = module.network.private_dns_zone_ids["blob"]
  public_ip_ranges        = var.airlock.public_ip_ranges
  malware_scanning        = var.airlock.malware_scanning
  malware_scanning_cap_gb = var.airlock.malware_scanning_cap_gb
  tags                    = local.tags
}

module "functionapp" {
  source                         = "./modules/functionapp"
  tre_id                         = var.tre_id
  location                       = var.location
  resource_group_name            = azurerm_resource_group.core.name
  plan_sku                       = var.function_plan_sku
  identity_id                    = azurerm_user_assigned_identity.api.id
  identity_client_id             = azurerm_user_assigned_identity.api.client_id
  integration_subnet_id          = module.network.functions_subnet_id
  host_storage_account_name      = module.storage.host_account_name
  log_analytics_workspace_id     = module.monitoring.workspace_id
  app_insights_connection_string = module.monitoring.app_insights_connection_string
  tags                           = local.tags

  settings = {
    log_level             = var.log_level
    tre_address_space     = var.tre_address_space
    core_address_space    = var.core_address_space
    dispatch_limit        = var.handler_tuning.dispatch_limit
    pickup_limit          = var.handler_tuning.pickup_limit
    heartbeat_limit       = var.handler_tuning.heartbeat_limit
    cancel_grace          = var.handler_tuning.cancel_grace
    agent_heartbeat       = var.agent_heartbeat
    max_body_bytes        = var.handler_tuning.max_body_bytes
    shutdown_timeout      = var.handler_tuning.shutdown_timeout
    cosmos_endpoint       = module.cosmos.endpoint
    cosmos_database       = module.cosmos.database_name
    service_bus_namespace = module.servicebus.fully_qualified_namespace
    key_vault_url         = module.keyvault.uri
    firewall_policy_id    = module.firewall.policy_id
    firewall_group_prefix = var.firewall_group_prefix
    firewall_priorities   = var.firewall_group_priorities
    aad_tenant_id         = var.aad_tenant_id
    aad_authority_url     = var.aad_authority_url
    api_client_id         = var.api_client_id
    api_audience          = var.api_audience

    storage_endpoint_suffix    = var.storage_endpoint_suffix
    airlock_scanner            = var.airlock.malware_scanning ? "defender" : "off"
    airlock_required_approvals = var.airlock.required_approvals
    airlock_link_expiry        = var.airlock.link_expiry
    airlock_scan_limit         = var.airlock.scan_limit
    airlock_processing_limit   = var.airlock.processing_limit
    subscription_id            = var.subscription_id
    otlp_endpoint              = var.traces.otlp_endpoint
    otlp_headers               = var.traces.otlp_headers
  }

  # The host needs its storage roles before it starts (timer leases).
  depends_on = [azurerm_role_assignment.api_host_storage]
}

module "processor" {
  source               = "./modules/processor"
  tre_id               = var.tre_id
  location             = var.location
  resource_group_name  = azurerm_resource_group.core.name
  subnet_id            = module.network.processor_subnet_id
  vm_size              = var.processor_vm_size
  admin_ssh_public_key = var.processor_admin_ssh_public_key
  identity_id          = azurerm_user_assigned_identity.processor.id
  identity_client_id   = azurerm_user_assigned_identity.processor.client_id
  syslog_rule_id       = module.monitoring.syslog_rule_id
  tags                 = local.tags

  settings = {
    log_level             = var.log_level
    number_processes      = var.processor_number_processes
    agent_heartbeat       = var.agent_heartbeat
    service_bus_namespace = module.servicebus.fully_qualified_namespace
    registry_server       = module.registry.login_server
    subscription_id       = var.subscription_id
    tenant_id             = data.azurerm_client_config.current.tenant_id
    key_vault_url         = module.keyvault.uri
    state_storage_account = module.storage.account_name
    state_container       = "tfstate"
    aad_authority_url     = var.aad_authority_url
    microsoft_graph_fqdn  = var.microsoft_graph_fqdn
  }

  # The agent starts receiving at first boot: its roles must be in place, its
  # egress must already go through the firewall (rcg-core), and Porter's
  # storage and secrets must exist (the agent checks them at start).
  depends_on = [
    azurerm_role_assignment.processor_queues,
    azurerm_role_assignment.processor_state,
    azurerm_role_assignment.processor_package,
    azurerm_role_assignment.processor_vault,
    azurerm_key_vault_secret.porter_db_connection_string,
    azurerm_key_vault_secret.auth_tenant_id,
    azurerm_key_vault_secret.application_admin_client_id,
    azurerm_key_vault_secret.application_admin_client_secret,
    module.firewall,
    module.network,
  ]
}

# Firewall diagnostics (every allowed and denied flow) in the same workspace:
# "why can't my workspace reach X" is answered there.
resource "azurerm_monitor_diagnostic_setting" "firewall" {
  name                           = "diag-fw-${var.tre_id}"
  target_resource_id             = module.firewall.id
  log_analytics_workspace_id     = module.monitoring.workspace_id
  log_analytics_destination_type = "Dedicated"

  enabled_log {
    category_group = "allLogs"
  }
}
