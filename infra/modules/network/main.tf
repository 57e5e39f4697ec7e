# The core network: one VNet with a subnet per role, a route table that sends
# every outbound packet of the core's workloads through the firewall, and the
# private DNS zones of the core's private endpoints (workspace bundles link
# their VNets to the same zones, found by name in rg-<tre_id>).

locals {
  # The first /22 of the core address space, whatever its size.
  core22 = cidrsubnet(var.core_address_space, 22 - tonumber(split("/", var.core_address_space)[1]), 0)

  # Subnets carry AzureTRE's names where its bundles look them up by name
  # (data "azurerm_subnet": SharedSubnet for shared services' VMs and
  # endpoints, ResourceProcessorSubnet and WebAppSubnet as sources in
  # workspaces' network rules).
  subnets = {
    # Azure requires this exact name and at least a /26.
    firewall = { name = "AzureFirewallSubnet", prefix = cidrsubnet(local.core22, 4, 0) }
    # Function App regional VNet integration: delegated, /26 recommended.
    # The TRE's API, as AzureTRE's API web app's subnet.
    functions = { name = "WebAppSubnet", prefix = cidrsubnet(local.core22, 4, 1) }
    # The Resource Processor VM.
    processor = { name = "ResourceProcessorSubnet", prefix = cidrsubnet(local.core22, 4, 2) }
    # Private endpoints of Cosmos DB (both APIs), Service Bus, Key Vault,
    # storage, ACR.
    endpoints = { name = "snet-private-endpoints", prefix = cidrsubnet(local.core22, 4, 3) }
    # Shared services (source mirror, package mirror) deployed by bundles.
    shared = { name = "SharedSubnet", prefix = cidrsubnet(local.core22, 3, 2) }
  }

  # Every zone a core private endpoint or a workspace bundle's endpoint uses.
  # AzureCloud names: sovereign clouds use other suffixes.
  private_dns_zones = {
    cosmos   = "privatelink.documents.azure.com"
    mongo    = "privatelink.mongo.cosmos.azure.com"
    sb       = "privatelink.servicebus.windows.net"
    vault    = "privatelink.vaultcore.azure.net"
    blob     = "privatelink.blob.core.windows.net"
    table    = "privatelink.table.core.windows.net"
    file     = "privatelink.file.core.windows.net"
    registry = "privatelink.azurecr.io"
  }
}

resource "azurerm_virtual_network" "core" {
  name                = "vnet-${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  address_space       = [var.core_address_space]
  tags                = var.tags
}

resource "azurerm_subnet" "firewall" {
  name                 = local.subnets.firewall.name
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.core.name
  address_prefixes     = [local.subnets.firewall.prefix]
}

resource "azurerm_subnet" "functions" {
  name                 = local.subnets.functions.name
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.core.name
  address_prefixes     = [local.subnets.functions.prefix]

  delegation {
    name = "app-service"
    service_delegation {
      name    = "Microsoft.Web/serverFarms"
      actions = ["Microsoft.Network/virtualNetworks/subnets/action"]
    }
  }
}

resource "azurerm_subnet" "processor" {
  name                 = local.subnets.processor.name
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.core.name
  address_prefixes     = [local.subnets.processor.prefix]
}

resource "azurerm_subnet" "endpoints" {
  name                 = local.subnets.endpoints.name
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.core.name
  address_prefixes     = [local.subnets.endpoints.prefix]
  # Network policies (NSG, route table) apply to the endpoints too.
  private_endpoint_network_policies = "Enabled"
}

resource "azurerm_subnet" "shared" {
  name                 = local.subnets.shared.name
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.core.name
  address_prefixes     = [local.subnets.shared.prefix]
}

# Inbound: only from inside the TRE's networks (the default rules allow
# VirtualNetwork, which includes peered workspace VNets, and deny the rest).
# Outbound is filtered by the firewall, not here.
resource "azurerm_network_security_group" "core" {
  name                = "nsg-${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_subnet_network_security_group_association" "core" {
  for_each = {
    processor = azurerm_subnet.processor.id
    endpoints = azurerm_subnet.endpoints.id
    shared    = azurerm_subnet.shared.id
  }
  subnet_id                 = each.value
  network_security_group_id = azurerm_network_security_group.core.id
}

resource "azurerm_private_dns_zone" "zone" {
  for_each            = local.private_dns_zones
  name                = each.value
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "core" {
  for_each              = local.private_dns_zones
  name                  = "link-${var.tre_id}-core"
  resource_group_name   = var.resource_group_name
  private_dns_zone_name = azurerm_private_dns_zone.zone[each.key].name
  virtual_network_id    = azurerm_virtual_network.core.id
  registration_enabled  = false
  tags                  = var.tags
}
