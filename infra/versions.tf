terraform {
  # 1.9 lets a variable's validation refer to other variables (the address
  # spaces are checked against each other).
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # Pinned: attribute names move within 4.x (e.g. Key Vault's
      # rbac_authorization_enabled arrived in 4.42). Upgrade on purpose, with
      # a plan reviewed line by line (docs/deploy.md, "Upgrading").
      version = "= 4.67.0"
    }
    azuread = {
      source = "hashicorp/azuread"
      # The web UI's redirect URIs on the API's app registration (ui.tf).
      # Pinned for the same reason.
      version = "= 3.4.0"
    }
  }

  # Remote state in an Azure Storage account that exists before this
  # configuration (it cannot hold its own state). Nothing is hard-coded:
  # `terraform init -backend-config=backend.hcl` (see backend.hcl.example and
  # docs/deploy.md). use_azuread_auth is set there so that the state account
  # needs no shared keys.
  backend "azurerm" {}
}
