# Egress through the firewall: the default route of every core workload
# subnet points at the firewall's private address. The firewall subnet and
# the private endpoints' subnet keep the system routes. (The firewall takes
# its subnet from this module and gives back its address: Terraform orders the
# resources, not the modules, so this is no cycle.)

resource "azurerm_route_table" "egress" {
  name                = "rt-${var.tre_id}"
  location            = var.location
  resource_group_name = var.resource_group_name
  # Routes learnt over BGP (a VPN or ExpressRoute gateway) must not bypass
  # the firewall.
  bgp_route_propagation_enabled = false
  tags                          = var.tags

  route {
    name                   = "default-via-firewall"
    address_prefix         = "0.0.0.0/0"
    next_hop_type          = "VirtualAppliance"
    next_hop_in_ip_address = var.firewall_private_ip
  }
}

resource "azurerm_subnet_route_table_association" "egress" {
  for_each = {
    functions = azurerm_subnet.functions.id
    processor = azurerm_subnet.processor.id
    shared    = azurerm_subnet.shared.id
  }
  subnet_id      = each.value
  route_table_id = azurerm_route_table.egress.id
}
