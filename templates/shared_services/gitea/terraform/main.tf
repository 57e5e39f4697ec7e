# The source mirror: Gitea on a VM in the core's shared-services subnet,
# holding read-only pull mirrors of the repositories an admin lists.
# Workspaces reach it over the peering; it reaches the Git hosts through
# the firewall, as the template's egress declares. Nobody can register or
# push: the only account is the admin, whose password is in the TRE's Key
# Vault (gitea-admin-password).

locals {
  core_rg      = "rg-${var.tre_id}"
  short_id     = substr(var.id, length(var.id) - 4, 4)
  repositories = jsondecode(base64decode(var.mirror_repositories))
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

resource "azurerm_resource_group" "gitea" {
  name     = "rg-${var.tre_id}-svc-gitea"
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
  name         = "gitea-admin-password"
  value        = random_password.admin.result
  key_vault_id = data.azurerm_key_vault.core.id
  content_type = "Gitea admin (user treadmin) of the source mirror ${var.id}"
}

resource "azurerm_network_interface" "gitea" {
  name                = "nic-gitea-${var.tre_id}"
  location            = var.location
  resource_group_name = azurerm_resource_group.gitea.name
  tags                = local.tags

  ip_configuration {
    name                          = "internal"
    subnet_id                     = data.azurerm_subnet.shared.id
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_linux_virtual_machine" "gitea" {
  name                            = "vm-gitea-${var.tre_id}"
  location                        = var.location
  resource_group_name             = azurerm_resource_group.gitea.name
  size                            = var.vm_size
  network_interface_ids           = [azurerm_network_interface.gitea.id]
  admin_username                  = "azureuser"
  admin_password                  = random_password.admin.result
  disable_password_authentication = false
  tags                            = local.tags

  # Changing the mirrored repositories or the version re-creates the VM:
  # the mirrors are copies, fetched again.
  custom_data = base64encode(templatefile("${path.module}/cloud-init.yaml", {
    gitea_version  = var.gitea_version
    admin_password = random_password.admin.result
    repositories   = local.repositories
  }))

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "StandardSSD_LRS"
    disk_size_gb         = 128
  }

  source_image_reference {
    publisher = "Canonical"
    offer     = "0001-com-ubuntu-server-jammy"
    sku       = "22_04-lts-gen2"
    version   = "latest"
  }

  boot_diagnostics {}
}
