# The package mirror: Sonatype Nexus on a VM in the core's shared-services
# subnet, with proxy repositories of PyPI (pypi), npm (npm), NuGet (nuget)
# and Ubuntu's archive (apt), readable anonymously from the workspaces. It
# reaches the package indexes through the firewall, as the template's
# egress declares. The admin's password is in the TRE's Key Vault
# (nexus-admin-password).

locals {
  core_rg = "rg-${var.tre_id}"
  tags = {
    tre_id                = var.tre_id
    tre_shared_service_id = var.id
  }
}

data "azurerm_subnet" "shared" {
  name                 = "SharedSubnet"
  virtual_network_name = "vnet-${var.tre_id}"
  resource_group_name  = local.core_rg
}

data "azurerm_key_vault" "core" {
  name                = "kv-${var.tre_id}"
  resource_group_name = local.core_rg
}

resource "azurerm_resource_group" "nexus" {
  name     = "rg-${var.tre_id}-svc-nexus"
  location = var.location
  tags     = local.tags
}

resource "random_password" "admin" {
  length      = 24
  special     = false
  min_upper   = 2
  min_lower   = 2
  min_numeric = 2
}

resource "azurerm_key_vault_secret" "admin" {
  name         = "nexus-admin-password"
  value        = random_password.admin.result
  key_vault_id = data.azurerm_key_vault.core.id
  content_type = "Nexus admin (user admin) of the package mirror ${var.id}"
}

resource "azurerm_network_interface" "nexus" {
  name                = "nic-nexus-${var.tre_id}"
  location            = var.location
  resource_group_name = azurerm_resource_group.nexus.name
  tags                = local.tags

  ip_configuration {
    name                          = "internal"
    subnet_id                     = data.azurerm_subnet.shared.id
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_linux_virtual_machine" "nexus" {
  name                            = "vm-nexus-${var.tre_id}"
  location                        = var.location
  resource_group_name             = azurerm_resource_group.nexus.name
  size                            = var.vm_size
  network_interface_ids           = [azurerm_network_interface.nexus.id]
  admin_username                  = "azureuser"
  admin_password                  = random_password.admin.result
  disable_password_authentication = false
  tags                            = local.tags

  # Changing the version re-creates the VM: the caches are fetched again.
  custom_data = base64encode(templatefile("${path.module}/cloud-init.yaml", {
    nexus_version  = var.nexus_version
    admin_password = random_password.admin.result
  }))

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "StandardSSD_LRS"
    disk_size_gb         = 256 # the package caches
  }

  source_image_reference {
    publisher = "Canonical"
    offer     = "0001-com-ubuntu-server-jammy"
    sku       = "22_04-lts-gen2"
    version   = "latest"
  }

  boot_diagnostics {}
}
