# The workspace's network: peered with the core, its DNS and its default
# route both the TRE's firewall, so that every packet leaving it is
# filtered there (and FQDN rules resolve the names the workloads resolve).

resource "azurerm_virtual_network" "ws" {
  name                = "vnet-${var.tre_id}-ws-${local.short_id}"
  location            = var.location
  resource_group_name = azurerm_resource_group.ws.name
  address_space       = local.address_spaces
  dns_servers         = [data.azurerm_firewall.core.ip_configuration[0].private_ip_address]
  tags                = local.tags
}

resource "azurerm_subnet" "services" {
  name                 = "ServicesSubnet"
  resource_group_name  = azurerm_resource_group.ws.name
  virtual_network_name = azurerm_virtual_network.ws.name
  address_prefixes     = [local.services_prefix]
}

resource "azurerm_subnet" "endpoints" {
  name                              = "EndpointsSubnet"
  resource_group_name               = azurerm_resource_group.ws.name
  virtual_network_name              = azurerm_virtual_network.ws.name
  address_prefixes                  = [local.endpoints_prefix]
  private_endpoint_network_policies = "Enabled"
}

resource "azurerm_route_table" "egress" {
  name                          = "rt-${var.tre_id}-ws-${local.short_id}"
  location                      = var.location
  resource_group_name           = azurerm_resource_group.ws.name
  bgp_route_propagation_enabled = false
  tags                          = local.tags

  route {
    name                   = "default-via-firewall"
    address_prefix         = "0.0.0.0/0"
    next_hop_type          = "VirtualAppliance"
    next_hop_in_ip_address = data.azurerm_firewall.core.ip_configuration[0].private_ip_address
  }
}

resource "azurerm_subnet_route_table_association" "services" {
  subnet_id      = azurerm_subnet.services.id
  route_table_id = azurerm_route_table.egress.id
}

resource "azurerm_subnet_route_table_association" "endpoints" {
  subnet_id      = azurerm_subnet.endpoints.id
  route_table_id = azurerm_route_table.egress.id
}

# Inbound only from inside the TRE (VirtualNetwork covers the peered core);
# the default rules deny the Internet.
resource "azurerm_network_security_group" "ws" {
  name                = "nsg-${var.tre_id}-ws-${local.short_id}"
  location            = var.location
  resource_group_name = azurerm_resource_group.ws.name
  tags                = local.tags
}

resource "azurerm_subnet_network_security_group_association" "ws" {
  for_each = {
    services  = azurerm_subnet.services.id
    endpoints = azurerm_subnet.endpoints.id
  }
  subnet_id                 = each.value
  network_security_group_id = azurerm_network_security_group.ws.id
}

resource "azurerm_virtual_network_peering" "ws_to_core" {
  name                      = "peer-ws-${local.short_id}-to-core"
  resource_group_name       = azurerm_resource_group.ws.name
  virtual_network_name      = azurerm_virtual_network.ws.name
  remote_virtual_network_id = data.azurerm_virtual_network.core.id
  allow_forwarded_traffic   = true
}

resource "azurerm_virtual_network_peering" "core_to_ws" {
  name                      = "peer-core-to-ws-${local.short_id}"
  resource_group_name       = local.core_rg
  virtual_network_name      = data.azurerm_virtual_network.core.name
  remote_virtual_network_id = azurerm_virtual_network.ws.id
  allow_forwarded_traffic   = true
}

# The workspace resolves private endpoints through the firewall's DNS
# proxy, which resolves in the core VNet; the zones are also linked here so
# that the workspace still resolves its endpoints if the proxy is bypassed.
resource "azurerm_private_dns_zone_virtual_network_link" "ws" {
  for_each              = data.azurerm_private_dns_zone.core
  name                  = "link-${var.tre_id}-ws-${local.short_id}"
  resource_group_name   = local.core_rg
  private_dns_zone_name = each.value.name
  virtual_network_id    = azurerm_virtual_network.ws.id
  registration_enabled  = false
  tags                  = local.tags
}
