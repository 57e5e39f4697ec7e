provider "azurerm" {
  subscription_id = var.subscription_id

  # Storage accounts here refuse shared keys and their data plane is private
  # (or restricted to the deployer's addresses): Terraform manages them through
  # Azure Resource Manager only, and any data-plane call uses Entra ID.
  storage_use_azuread = true

  features {
    storage {
      data_plane_available = false
    }
    key_vault {
      # Sensitive template properties live in the vault: a destroy must not
      # purge them; they stay recoverable for the retention period.
      purge_soft_delete_on_destroy = false
    }
    resource_group {
      # Refuse to delete the core resource group while something Terraform
      # does not know about (e.g. a bundle's resource) is still in it.
      prevent_deletion_if_contains_resources = true
    }
  }
}

# Entra ID, in the tenant of the signed-in deployer (az login): only the web
# UI's redirect URIs on the API's app registration (ui.tf).
provider "azuread" {
  tenant_id = var.aad_tenant_id
}
