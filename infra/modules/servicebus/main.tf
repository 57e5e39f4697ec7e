# The two queues between the handler and the Resource Processor, on a
# Premium namespace (the tier that has private endpoints), reached only
# through the private endpoint and only with Entra ID.

variable "tre_id" {
  description = "Identifier of the TRE; names the namespace."
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

variable "endpoints_subnet_id" {
  description = "Subnet of the private endpoint."
  type        = string
}

variable "dns_zone_id" {
  description = "privatelink.servicebus.windows.net zone."
  type        = string
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
}

locals {
  # The queues of internal/tre (queue.go, airlock.go).
  #   workspacequeue:   handler -> processor; session = the resource a step
  #                     changes, so changes to one resource run in order.
  #   deploymentstatus: processor -> handler (the deployment-status function,
  #                     isSessionsEnabled); session = the operation.
  #   airlock-status-changed: the airlock's status changes that have work
  #                     for its processor (the airlock-status-changed
  #                     function, isSessionsEnabled); session = the request,
  #                     so one request's changes are handled in order.
  queues = ["workspacequeue", "deploymentstatus", "airlock-status-changed"]
}

resource "azurerm_servicebus_namespace" "bus" {
  name                         = "sb-${var.tre_id}"
  location                     = var.location
  resource_group_name          = var.resource_group_name
  sku                          = "Premium"
  capacity                     = 1
  premium_messaging_partitions = 1
  tags                         = var.tags

  # Entra ID only, private only.
  local_auth_enabled            = false
  public_network_access_enabled = false
}

resource "azurerm_servicebus_queue" "queue" {
  for_each     = toset(local.queues)
  name         = each.key
  namespace_id = azurerm_servicebus_namespace.bus.id

  # Sessions: one consumer per session at a time, in order (see above).
  requires_session = true

  # The message id is the step id (or the status report's id): a sender
  # that crashed after sending and sends again within 10 minutes is dropped
  # as a duplicate. Ten minutes covers a crash and a restart of either side.
  requires_duplicate_detection            = true
  duplicate_detection_history_time_window = "PT10M"

  # The processor renews its session lock every 20 s (RP_LOCK_RENEW_INTERVAL)
  # while a bundle runs: a minute leaves two renewals' margin, and a dead
  # processor's request comes back within a minute.
  lock_duration = "PT1M"

  # Service Bus's default, and what the handler's dead-letter view and the
  # Functions trigger assume: the tenth failed delivery dead-letters.
  max_delivery_count = 10

  dead_lettering_on_message_expiration = true
  partitioning_enabled                 = false
}

# The airlock's notifications (tre.QueueAirlockNotification): an event per
# status change of a request, AzureTRE's airlockNotification shape
# (docs/airlock.md). A topic, so that each notifier (email, Teams) has its
# subscription; the handler only sends. The message id is the change's, so
# a re-send after a crash is dropped.
resource "azurerm_servicebus_topic" "airlock_notification" {
  name                                    = "airlock-notification"
  namespace_id                            = azurerm_servicebus_namespace.bus.id
  requires_duplicate_detection            = true
  duplicate_detection_history_time_window = "PT10M"
  partitioning_enabled                    = false
}

module "endpoint" {
  source              = "../private_endpoint"
  name                = azurerm_servicebus_namespace.bus.name
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.endpoints_subnet_id
  resource_id         = azurerm_servicebus_namespace.bus.id
  subresource         = "namespace"
  dns_zone_id         = var.dns_zone_id
  tags                = var.tags
}

output "namespace_id" {
  description = "ARM id of the namespace."
  value       = azurerm_servicebus_namespace.bus.id
}

output "fully_qualified_namespace" {
  description = "<name>.servicebus.windows.net (SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE, ServiceBusConnection__fullyQualifiedNamespace)."
  value       = "${azurerm_servicebus_namespace.bus.name}.servicebus.windows.net"
}

output "airlock_notification_topic_id" {
  description = "ARM id of the airlock's notification topic (scope of the handler's send role)."
  value       = azurerm_servicebus_topic.airlock_notification.id
}

output "queue_ids" {
  description = "ARM id of each queue, by name: the scopes of the data-plane role assignments."
  value       = { for k, q in azurerm_servicebus_queue.queue : k => q.id }
}
