# The API: a Linux Function App running tre-handler as a custom handler
# (host.json, functions/*/function.json), on a dedicated plan with regional
# VNet integration, with one user-assigned identity for everything it reaches.

locals {
  # The handler's settings, by the names `go run ./handlers settings` prints.
  # internal/infracheck fails if one the handler reads in Azure is missing
  # here, or if one here is read by nobody. Settings the handler reads only
  # in local mode, and those the platform sets, are listed with a reason
  # there, not here.
  handler_settings = {
    TRE_LISTEN_ADDRESS = "127.0.0.1" # the host connects over loopback
    LOG_LEVEL          = var.settings.log_level
    TRE_ID             = var.tre_id
    RESOURCE_LOCATION  = var.location
    TRE_ADDRESS_SPACE  = var.settings.tre_address_space
    CORE_ADDRESS_SPACE = var.settings.core_address_space

    TRE_DISPATCH_LIMIT   = var.settings.dispatch_limit
    TRE_PICKUP_LIMIT     = var.settings.pickup_limit
    TRE_HEARTBEAT_LIMIT  = var.settings.heartbeat_limit
    TRE_CANCEL_GRACE     = var.settings.cancel_grace
    TRE_AGENT_HEARTBEAT  = var.settings.agent_heartbeat
    TRE_MAX_BODY_BYTES   = tostring(var.settings.max_body_bytes)
    TRE_SHUTDOWN_TIMEOUT = var.settings.shutdown_timeout
    # host.json's functionTimeout (handlers' TestFunctionTimeoutMatchesHost
    # holds the three equal): the triggers' retries and the firewall
    # reconcile's work are bounded by it.
    TRE_FUNCTION_TIMEOUT = "5m"

    # Azure adapters, all reached with the identity below.
    STATE_STORE_ENDPOINT                  = var.settings.cosmos_endpoint
    STATE_STORE_DATABASE                  = var.settings.cosmos_database
    STATE_STORE_SSL_VERIFY                = "true"
    SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE = var.settings.service_bus_namespace
    KEY_VAULT_URL                         = var.settings.key_vault_url
    TRE_SECRET_STORE                      = "keyvault"
    MANAGED_IDENTITY_CLIENT_ID            = var.identity_client_id
    # The Functions host delivers deploymentstatus and the timers; the
    # Resource Processor runs on its VM. (Their defaults with the Azure
    # adapters; stated so that nobody has to know that.)
    TRE_LOCAL_PROCESSOR = "false"
    TRE_LOCAL_HOST      = "false"

    # The firewall service writes to Azure Firewall: the policy whose rule
    # collection groups it owns, and the prefix of their names.
    TRE_FIREWALL              = "azure"
    TRE_FIREWALL_POLICY_ID    = var.settings.firewall_policy_id
    TRE_FIREWALL_GROUP_PREFIX = var.settings.firewall_group_prefix
    TRE_FIREWALL_PRIORITIES   = var.settings.firewall_priorities

    # The airlock: a storage account per stage (modules/airlock and each
    # workspace's), reached with the identity; the verdicts of Defender for
    # Storage on the in-progress accounts (or none).
    TRE_AIRLOCK_STORAGE            = "azure"
    STORAGE_ENDPOINT_SUFFIX        = var.settings.storage_endpoint_suffix
    TRE_AIRLOCK_SCANNER            = var.settings.airlock_scanner
    TRE_AIRLOCK_REQUIRED_APPROVALS = tostring(var.settings.airlock_required_approvals)
    TRE_AIRLOCK_LINK_EXPIRY        = var.settings.airlock_link_expiry
    TRE_AIRLOCK_SCAN_LIMIT         = var.settings.airlock_scan_limit
    TRE_AIRLOCK_PROCESSING_LIMIT   = var.settings.airlock_processing_limit

    # Entra ID.
    AAD_TENANT_ID     = var.settings.aad_tenant_id
    AAD_AUTHORITY_URL = var.settings.aad_authority_url
    API_CLIENT_ID     = var.settings.api_client_id
    API_AUDIENCE      = var.settings.api_audience

    # Traces over OTLP/HTTP (docs/monitoring.md): off when the endpoint is
    # empty. Logs go to Application Insights through the host either way.
    OTEL_EXPORTER_OTLP_ENDPOINT = var.settings.otlp_endpoint
    OTEL_EXPORTER_OTLP_HEADERS  = var.settings.otlp_headers
    OTEL_SERVICE_NAME           = "tre-handler"

    # Costs (/api/costs) from Azure Cost Management, cached as AzureTRE does.
    TRE_COSTS             = "azure"
    AZURE_SUBSCRIPTION_ID = var.settings.subscription_id
    TRE_COSTS_CACHE_TTL   = "2h"
  }

  # Settings of the Functions host and App Service, read by them, not by the
  # handler. internal/infracheck allow-lists each with its reason. The
  # provider adds FUNCTIONS_WORKER_RUNTIME (use_custom_runtime),
  # FUNCTIONS_EXTENSION_VERSION, AzureWebJobsStorage__accountName and
  # APPLICATIONINSIGHTS_CONNECTION_STRING from the attributes below.
  host_settings = {
    # Host storage (timer leases, host keys) with the user-assigned identity.
    AzureWebJobsStorage__credential = "managedidentity"
    AzureWebJobsStorage__clientId   = var.identity_client_id
    # functions/deployment-status/function.json: "connection":
    # "ServiceBusConnection", an identity-based connection.
    ServiceBusConnection__fullyQualifiedNamespace = var.settings.service_bus_namespace
    ServiceBusConnection__credential              = "managedidentity"
    ServiceBusConnection__clientId                = var.identity_client_id
    # Run the zip that scripts/deploy.sh deploys as a read-only package.
    WEBSITE_RUN_FROM_PACKAGE = "1"
    # The root is the web UI (functions/ui), not the host's default page.
    AzureWebJobsDisableHomepage = "true"
    # Keep every trace: host.json does not configure sampling, and the
    # Application Insights default samples traces away (an operation's log
    # must be complete).
    AzureFunctionsJobHost__logging__applicationInsights__samplingSettings__isEnabled = "false"
  }
}

resource "azurerm_service_plan" "api" {
  name                = "asp-${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  os_type             = "Linux"
  sku_name            = var.plan_sku
  tags                = var.tags
}

resource "azurerm_linux_function_app" "api" {
  name                = "func-${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  service_plan_id     = azurerm_service_plan.api.id
  tags                = var.tags

  storage_account_name          = var.host_storage_account_name
  storage_uses_managed_identity = true
  functions_extension_version   = "~4"
  # AzureWebJobsDashboard is retired; Application Insights replaces it.
  builtin_logging_enabled = false

  https_only                    = true
  public_network_access_enabled = true # the API is public; Entra ID guards it
  virtual_network_subnet_id     = var.integration_subnet_id
  client_certificate_enabled    = false
  # Deploy with Entra ID (az functionapp deployment source config-zip
  # signs in with the caller's token), not with publishing passwords.
  ftp_publish_basic_authentication_enabled       = false
  webdeploy_publish_basic_authentication_enabled = false

  identity {
    type         = "UserAssigned"
    identity_ids = [var.identity_id]
  }
  key_vault_reference_identity_id = var.identity_id

  app_settings = merge(local.handler_settings, local.host_settings)

  site_config {
    always_on                              = true # timers and the Service Bus trigger keep running
    application_insights_connection_string = var.app_insights_connection_string
    # Every outbound call goes into the VNet: private endpoints, and the
    # firewall for the rest.
    vnet_route_all_enabled = true
    ftps_state             = "Disabled"
    http2_enabled          = true
    minimum_tls_version    = "1.2"
    # No App Service health check: /api/health reports Cosmos DB, Service
    # Bus and the processor, and an instance must not be replaced because a
    # dependency is down.

    application_stack {
      use_custom_runtime = true
    }
  }
}

# Platform logs (host start-up, the custom handler's console) beside the
# traces in the same workspace.
resource "azurerm_monitor_diagnostic_setting" "api" {
  name                       = "diag-func-${var.tre_id}"
  target_resource_id         = azurerm_linux_function_app.api.id
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "FunctionAppLogs"
  }
}
