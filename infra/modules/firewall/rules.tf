# rcg-core: what the core needs to work. Everything else is denied (Azure
# Firewall denies what no rule allows), including for the core itself.

resource "azurerm_firewall_policy_rule_collection_group" "core" {
  # Not prefixed with the firewall service's group prefix: never managed by it.
  name               = "rcg-core"
  firewall_policy_id = azurerm_firewall_policy.core.id
  # Before every other group; the root variable firewall_group_priorities
  # keeps the firewall service's clear of it.
  priority = 100

  network_rule_collection {
    name     = "nrc-core-azure"
    priority = 100
    action   = "Allow"

    rule {
      # The agent and bundles sign in with the VM's identity (Entra ID, and
      # Microsoft Graph for bundles that manage applications, both in
      # AzureActiveDirectory) and call ARM; the Azure Monitor agent ships
      # journald to Log Analytics. As AzureTRE's rcg-core, Key Vaults of the
      # TRE's region: a bundle writes secrets into the vault it creates
      # before that vault's private endpoint exists. Porter's images come
      # from the TRE's registry, by private endpoint.
      name                  = "processor-to-azure"
      protocols             = ["TCP"]
      source_ip_groups      = [azurerm_ip_group.core["resource-processor"].id]
      destination_addresses = ["AzureActiveDirectory", "AzureResourceManager", "AzureMonitor", "AzureKeyVault.${var.location}"]
      destination_ports     = ["443"]
    }

    rule {
      # The handler fetches Entra ID's signing keys (token validation),
      # writes the Firewall Policy's rule collection groups and reads the IP
      # groups through ARM (the firewall service), and the Functions host
      # sends telemetry to Application Insights. Every outbound call of the
      # Function App goes through the firewall (vnet_route_all_enabled).
      # Cosmos DB, Service Bus, Key Vault and storage are reached by private
      # endpoint.
      name                  = "functions-to-azure"
      protocols             = ["TCP"]
      source_ip_groups      = [azurerm_ip_group.core["web-app"].id]
      destination_addresses = ["AzureActiveDirectory", "AzureResourceManager", "AzureMonitor"]
      destination_ports     = ["443"]
    }

    rule {
      # Shared-service VMs (source and package mirrors) ship their logs too
      # and sign in with their identities; their own egress (PyPI, npm, ...)
      # is declared by their templates and opened by the firewall service.
      name                  = "shared-to-azure"
      protocols             = ["TCP"]
      source_ip_groups      = [azurerm_ip_group.core["shared"].id]
      destination_addresses = ["AzureActiveDirectory", "AzureMonitor"]
      destination_ports     = ["443"]
    }
  }

  application_rule_collection {
    name     = "arc-core-processor"
    priority = 200
    action   = "Allow"

    rule {
      # What cloud-init installs (Ubuntu's packages, Docker among them, the
      # Azure CLI) and what Porter fetches for itself, its mixins and its
      # plugin (cdn.porter.sh, which redirects to GitHub). Bundles bring
      # Terraform and their providers in their images (the terraform mixin
      # mirrors them at build), so nothing else is open.
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
