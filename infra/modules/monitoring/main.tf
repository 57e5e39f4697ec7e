# One Log Analytics workspace for everything: the Function App's traces
# (through workspace-based Application Insights) and the processor VM's
# journald (syslog, through the Azure Monitor agent and the data collection
# rule below). Both programs log JSON lines carrying operation_id, so one
# KQL query follows an operation across both (docs/deploy.md).

variable "tre_id" {
  description = "Identifier of the TRE; names the resources."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Core resource group."
  type        = string
}

variable "retention_days" {
  description = "Retention of the workspace, in days."
  type        = number
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}

resource "azurerm_log_analytics_workspace" "tre" {
  name                = "log-${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = var.retention_days
  tags                = var.tags
}

resource "azurerm_application_insights" "api" {
  name                = "appi-${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  application_type    = "other"
  workspace_id        = azurerm_log_analytics_workspace.tre.id
  retention_in_days   = var.retention_days
  # An audit trail: keep every trace (the Function App also turns the host's
  # sampling off).
  sampling_percentage = 100
  tags                = var.tags
}

# Syslog of Linux VMs that are associated with the rule: journald forwards
# every unit's output to rsyslog (facility daemon for services such as
# tre-processor), and the agent sends it to the Syslog table.
resource "azurerm_monitor_data_collection_rule" "syslog" {
  name                = "dcr-${var.tre_id}-syslog"
  location            = var.location
  resource_group_name = var.resource_group_name
  kind                = "Linux"
  tags                = var.tags

  destinations {
    log_analytics {
      name                  = "tre-workspace"
      workspace_resource_id = azurerm_log_analytics_workspace.tre.id
    }
  }

  data_flow {
    streams      = ["Microsoft-Syslog"]
    destinations = ["tre-workspace"]
  }

  data_sources {
    syslog {
      name           = "tre-syslog"
      streams        = ["Microsoft-Syslog"]
      facility_names = ["daemon", "syslog", "user", "auth", "authpriv", "cron", "kern"]
      log_levels     = ["Info", "Notice", "Warning", "Error", "Critical", "Alert", "Emergency"]
    }
  }
}

output "workspace_id" {
  description = "ARM id of the Log Analytics workspace."
  value       = azurerm_log_analytics_workspace.tre.id
}

output "workspace_customer_id" {
  description = "Workspace (customer) id: `az monitor log-analytics query --workspace <id>`."
  value       = azurerm_log_analytics_workspace.tre.workspace_id
}

output "app_insights_connection_string" {
  description = "Connection string of Application Insights (APPLICATIONINSIGHTS_CONNECTION_STRING)."
  value       = azurerm_application_insights.api.connection_string
  sensitive   = true
}

output "app_insights_name" {
  description = "Name of the Application Insights resource."
  value       = azurerm_application_insights.api.name
}

output "syslog_rule_id" {
  description = "ARM id of the syslog data collection rule (associate Linux VMs with it)."
  value       = azurerm_monitor_data_collection_rule.syslog.id
}
