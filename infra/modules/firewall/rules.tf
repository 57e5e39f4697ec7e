# rcg-core: what the core needs to work. Everything else is denied (Azure
# Firewall denies what no rule allows), including for the core itself.

resource "azurerm_firewall_policy_rule_collection_group" "core" {
  # Not prefixed with the firewall service's group prefix: never managed by it.
  name               = "rcg-core"
  firewall_policy_id = azurerm_firewall_policy.core.id
  # Before the service's groups (200, 210, 500, 510); collides with none.
  priority = 100

  network_rule_collection {
    name     = "nrc-core-azure"
    priority = 100
    action   = "Allow"

    rule {
      # Bundles call ARM and sign in with the VM's identity; the Azure
      # Monitor agent ships journald to Log Analytics; docker pulls base
      # images Porter's mixins need from MCR.
      name                  = "processor-to-azure"
      protocols             = ["TCP"]
      source_ip_groups      = [azurerm_ip_group.core["resource-processor"].id]
      destination_addresses = ["AzureActiveDirectory", "AzureResourceManager", "AzureMonitor", "MicrosoftContainerRegistry", "AzureFrontDoor.FirstParty"]
      destination_ports     = ["443"]
    }

    rule {
      # The handler fetches Entra ID's signing keys (token validation) and
      # the Functions host sends telemetry to Application Insights. Cosmos DB,
      # Service Bus, Key Vault and storage are reached by private endpoint.
      name                  = "functions-to-azure"
      protocols             = ["TCP"]
      source_ip_groups      = [azurerm_ip_group.core["functions"].id]
      destination_addresses = ["AzureActiveDirectory", "AzureMonitor"]
      destination_ports     = ["443"]
    }

    rule {
      # Shared-service VMs (source and package mirrors) ship their logs too
      # and sign in with their identities; their own egress (PyPI, npm, ...)
      # is declared by their templates and opened by the firewall service.
      name                  = "shared-to-azure"
      protocols             = ["TCP"]
      source_ip_groups      = [azurerm_ip_group.core["shared-services"].id]
      destination_addresses = ["AzureActiveDirectory", "AzureMonitor"]
      destination_ports     = ["443"]
    }
  }

  application_rule_collection {
    name     = "arc-core-processor"
    priority = 200
    action   = "Allow"

    rule {
      # What cloud-init installs (packages, Docker, the Azure CLI, Porter)
      # and what Porter's Terraform mixin downloads (providers).
      name              = "processor-packages"
      source_ip_groups  = [azurerm_ip_group.core["resource-processor"].id]
      destination_fqdns = var.processor_egress_fqdns

      protocols {
        type = "Https"
        port = 443
      }
      protocols {
        # Ubuntu's apt mirrors are plain HTTP (packages are signed).
        type = "Http"
        port = 80
      }
    }
  }
}
