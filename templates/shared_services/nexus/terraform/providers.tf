terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "= 4.67.0" # the core's version (infra/versions.tf)
    }
    random = {
      source  = "hashicorp/random"
      version = "= 3.6.3"
    }
  }

  # Configured by porter.yaml's backendConfig: the TRE's bundle-state
  # account, one state per resource id, with Entra ID.
  backend "azurerm" {}
}

provider "azurerm" {
  # ARM_USE_MSI, ARM_CLIENT_ID, ARM_SUBSCRIPTION_ID, ARM_TENANT_ID come from
  # the processor's environment (porter credentials and parameters).
  storage_use_azuread = true

  features {
    key_vault {
      purge_soft_delete_on_destroy = false
    }
  }
}
