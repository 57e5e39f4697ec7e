# The Resource Processor: a Linux VM with no public address, running
# tre-processor under systemd (processor-vm/tre-processor.service), set up by
# cloud-init (processor-vm/cloud-init.yaml, a templatefile template). Its
# user-assigned identity reaches Service Bus, Key Vault and the bundle state,
# and is the identity bundles deploy with (ARM_USE_MSI).

locals {
  vm_name = "vm-rp-${var.tre_id}"

  # The agent's settings, by the names `go run ./processor-vm settings`
  # prints: one value per placeholder of processor-vm/processor.env.template
  # (which cloud-init.yaml writes to /etc/tre-processor/processor.env).
  # internal/infracheck fails if a placeholder is not passed here, if
  # something here is used by no placeholder (nobody would read it), or if a
  # setting the agent reads on the VM is in neither place.
  processor_settings = {
    LOG_LEVEL        = var.settings.log_level
    TRE_PROCESSOR_ID = local.vm_name
    NUMBER_PROCESSES = tostring(var.settings.number_processes)
    # Loopback: only the VM itself (and az vm run-command) probes it.
    RP_HEALTH_ADDRESS     = "127.0.0.1:8080"
    RP_HEARTBEAT_INTERVAL = "30s"
    # The queues' lock is PT1M (modules/servicebus): renewed three times a
    # lock, so two missed renewals still keep it.
    RP_LOCK_RENEW_INTERVAL = "20s"
    RP_TRANSIENT_RETRIES   = "3"
    RP_TRANSIENT_BACKOFF   = "30s"
    RP_RUNNER              = "porter"
    # = the handler's TRE_AGENT_HEARTBEAT (both from var.agent_heartbeat).
    RP_AGENT_HEARTBEAT_INTERVAL = var.settings.agent_heartbeat

    SERVICE_BUS_FULLY_QUALIFIED_NAMESPACE = var.settings.service_bus_namespace
    VMSS_MSI_ID                           = var.identity_client_id
    KEY_VAULT_URL                         = var.settings.key_vault_url

    REGISTRY_SERVER = var.settings.registry_server
    # cloud-init links the service user's Porter there.
    PORTER_PATH = "/usr/local/bin/porter"

    # Bundles deploy with the VM's identity.
    AZURE_ENVIRONMENT = "AzureCloud"
    ARM_ENVIRONMENT   = "public"
    # Entra ID and Graph, as AzureTRE's processor passes them to bundles.
    AAD_AUTHORITY_URL     = var.settings.aad_authority_url
    MICROSOFT_GRAPH_FQDN  = var.settings.microsoft_graph_fqdn
    ARM_USE_MSI           = "true"
    ARM_CLIENT_ID         = var.identity_client_id
    AZURE_SUBSCRIPTION_ID = var.settings.subscription_id
    AZURE_TENANT_ID       = var.settings.tenant_id

    # Where bundles keep their Terraform state (tfstate_* parameters); the
    # agent's package is in the same account (container processor).
    MGMT_RESOURCE_GROUP_NAME       = var.resource_group_name
    MGMT_STORAGE_ACCOUNT_NAME      = var.settings.state_storage_account
    TERRAFORM_STATE_CONTAINER_NAME = var.settings.state_container
  }
}

resource "azurerm_network_interface" "processor" {
  name                = "nic-${local.vm_name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags

  ip_configuration {
    name                          = "internal"
    subnet_id                     = var.subnet_id
    private_ip_address_allocation = "Dynamic"
    # No public_ip_address_id: the VM is reachable from the VNet only.
  }
}

resource "azurerm_linux_virtual_machine" "processor" {
  name                  = local.vm_name
  location              = var.location
  resource_group_name   = var.resource_group_name
  size                  = var.vm_size
  network_interface_ids = [azurerm_network_interface.processor.id]
  admin_username        = "azureuser"
  tags                  = var.tags

  disable_password_authentication = true
  admin_ssh_key {
    username   = "azureuser"
    public_key = var.admin_ssh_public_key
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [var.identity_id]
  }

  # cloud-init runs at first boot only: a change of these settings changes
  # custom_data, which replaces the VM (its identity, and so its roles,
  # stay). The agent's package is not in here: scripts/deploy.sh uploads it
  # and installs it in place (tre-processor-setup update).
  custom_data = base64encode(templatefile("${path.module}/../../../processor-vm/cloud-init.yaml", local.processor_settings))

  # Security patches are installed by the platform, outside business hours
  # of the region, with the VM's consent (AzureTRE #701).
  patch_mode            = "AutomaticByPlatform"
  patch_assessment_mode = "AutomaticByPlatform"
  provision_vm_agent    = true

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Premium_LRS"
    disk_size_gb         = 128 # Docker images of bundles
  }

  source_image_reference {
    publisher = "Canonical"
    offer     = "0001-com-ubuntu-server-jammy"
    sku       = "22_04-lts-gen2"
    version   = "latest"
  }

  boot_diagnostics {}
}

# The Azure Monitor agent, with the VM's identity, and the rule that sends
# its syslog (the agent's journald output) to Log Analytics.
resource "azurerm_virtual_machine_extension" "monitor_agent" {
  name                       = "AzureMonitorLinuxAgent"
  virtual_machine_id         = azurerm_linux_virtual_machine.processor.id
  publisher                  = "Microsoft.Azure.Monitor"
  type                       = "AzureMonitorLinuxAgent"
  type_handler_version       = "1.0"
  auto_upgrade_minor_version = true
  automatic_upgrade_enabled  = true
  tags                       = var.tags

  settings = jsonencode({
    authentication = {
      managedIdentity = {
        "identifier-name"  = "mi_res_id"
        "identifier-value" = var.identity_id
      }
    }
  })
}

resource "azurerm_monitor_data_collection_rule_association" "syslog" {
  name                    = "dcra-${local.vm_name}-syslog"
  target_resource_id      = azurerm_linux_virtual_machine.processor.id
  data_collection_rule_id = var.syslog_rule_id
}

output "vm_name" {
  description = "Name of the VM (az vm run-command invoke --name)."
  value       = azurerm_linux_virtual_machine.processor.name
}

output "vm_id" {
  description = "ARM id of the VM."
  value       = azurerm_linux_virtual_machine.processor.id
}
