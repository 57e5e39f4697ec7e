variable "tre_id" {
  description = "Identifier of the TRE (TRE_ID); names the resources."
  type        = string
}

variable "location" {
  description = "Azure region (RESOURCE_LOCATION)."
  type        = string
}

variable "resource_group_name" {
  description = "Core resource group."
  type        = string
}

variable "plan_sku" {
  description = "SKU of the dedicated Linux App Service plan."
  type        = string
}

variable "identity_id" {
  description = "ARM id of the handler's user-assigned identity."
  type        = string
}

variable "identity_client_id" {
  description = "Client id of the handler's user-assigned identity."
  type        = string
}

variable "integration_subnet_id" {
  description = "Delegated subnet of the regional VNet integration."
  type        = string
}

variable "host_storage_account_name" {
  description = "Storage account of the Functions host (AzureWebJobsStorage), reached with the identity."
  type        = string
}

variable "log_analytics_workspace_id" {
  description = "Workspace of the platform logs (FunctionAppLogs)."
  type        = string
}

variable "app_insights_connection_string" {
  description = "APPLICATIONINSIGHTS_CONNECTION_STRING."
  type        = string
  sensitive   = true
}

variable "settings" {
  description = "Values of the handler's settings (names in main.tf)."
  type = object({
    log_level             = string
    tre_address_space     = string
    core_address_space    = string
    dispatch_limit        = string
    pickup_limit          = string
    heartbeat_limit       = string
    cancel_grace          = string
    agent_heartbeat       = string
    max_body_bytes        = number
    shutdown_timeout      = string
    cosmos_endpoint       = string
    cosmos_database       = string
    service_bus_namespace = string
    key_vault_url         = string
    firewall_policy_id    = string
    firewall_group_prefix = string
    firewall_priorities   = string
    aad_tenant_id         = string
    aad_authority_url     = string
    api_client_id         = string
    api_audience          = string

    storage_endpoint_suffix    = string
    airlock_scanner            = string
    airlock_required_approvals = number
    airlock_link_expiry        = string
    airlock_scan_limit         = string
    airlock_processing_limit   = string
    subscription_id            = string
    otlp_endpoint              = string
    otlp_headers               = string
  })
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}
