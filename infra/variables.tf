variable "subscription_id" {
  description = "Subscription the TRE is deployed into (the core and, through the Resource Processor, every workspace)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.subscription_id))
    error_message = "subscription_id must be a subscription GUID (lower case)."
  }
}

variable "tre_id" {
  description = "Identifier of this TRE: lower-case letters and digits, starting with a letter, 3 to 11 characters. It names every resource (rg-<tre_id>, st<tre_id>state, kv-<tre_id>, ...) and is passed to bundles as tre_id; storage account and registry names allow no more."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,10}$", var.tre_id))
    error_message = "tre_id must be 3 to 11 lower-case letters and digits, starting with a letter (it is part of storage account and registry names)."
  }
}

variable "location" {
  description = "Azure region of the TRE (e.g. uksouth). Passed to the handler as RESOURCE_LOCATION and to bundles as azure_location."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be a region name in its short form, lower case without spaces (e.g. uksouth, westeurope)."
  }
}

variable "tre_address_space" {
  description = "IPv4 range the TRE owns: the core network and every workspace's address space come from it (TRE_ADDRESS_SPACE)."
  type        = string
  default     = "10.0.0.0/12"

  validation {
    condition     = can(cidrhost(var.tre_address_space, 0)) && cidrhost(var.tre_address_space, 0) == split("/", var.tre_address_space)[0]
    error_message = "tre_address_space must be an IPv4 CIDR whose address is the network address (e.g. 10.0.0.0/12)."
  }

  validation {
    # Azure's virtual networks cannot use these (multicast, broadcast,
    # loopback, link-local, Azure's DNS and health probe address).
    condition = can(cidrhost(var.tre_address_space, 0)) && !anytrue([
      for r in ["224.0.0.0/4", "255.255.255.255/32", "127.0.0.0/8", "169.254.0.0/16", "168.63.129.16/32"] :
      cidrhost(format("%s/%s", split("/", var.tre_address_space)[0], min(tonumber(split("/", var.tre_address_space)[1]), tonumber(split("/", r)[1]))), 0) ==
      cidrhost(format("%s/%s", split("/", r)[0], min(tonumber(split("/", var.tre_address_space)[1]), tonumber(split("/", r)[1]))), 0)
    ])
    error_message = "tre_address_space overlaps a range Azure virtual networks cannot use (224.0.0.0/4, 255.255.255.255/32, 127.0.0.0/8, 169.254.0.0/16, 168.63.129.16/32)."
  }
}

variable "core_address_space" {
  description = "Part of tre_address_space taken by the core network (CORE_ADDRESS_SPACE); never given to a workspace. A /22 or larger: the core subnets are carved from its first /22."
  type        = string
  default     = "10.1.0.0/22"

  validation {
    condition = (
      can(cidrhost(var.core_address_space, 0)) &&
      cidrhost(var.core_address_space, 0) == split("/", var.core_address_space)[0] &&
      tonumber(split("/", var.core_address_space)[1]) <= 22
    )
    error_message = "core_address_space must be an IPv4 network CIDR of size /22 or larger (e.g. 10.1.0.0/22)."
  }

  validation {
    # The core's network address, masked to the TRE's prefix, must be the
    # TRE's network address, and the core no larger than the TRE.
    condition = (
      tonumber(split("/", var.core_address_space)[1]) >= tonumber(split("/", var.tre_address_space)[1]) &&
      cidrhost(format("%s/%s", split("/", var.core_address_space)[0], split("/", var.tre_address_space)[1]), 0) == cidrhost(var.tre_address_space, 0)
    )
    error_message = "core_address_space must lie inside tre_address_space."
  }
}

variable "deployer_ip_ranges" {
  description = "Public IPv4 addresses or CIDRs of the machines that run scripts/deploy.sh and scripts/register-bundle.sh: they alone may reach the bundle-state storage account (to upload the processor bundle) and the container registry (porter publish). Everything else reaches them through private endpoints."
  type        = list(string)

  validation {
    condition     = length(var.deployer_ip_ranges) > 0 && alltrue([for r in var.deployer_ip_ranges : can(cidrhost(strcontains(r, "/") ? r : "${r}/32", 0))])
    error_message = "deployer_ip_ranges must list at least one IPv4 address or CIDR (without them nobody can upload bundles)."
  }

  validation {
    # Storage IP rules: a range in CIDR notation (its network address) of
    # /30 or wider; a /31 or /32 only as single addresses (the storage
    # module writes a /32 as its address).
    condition = alltrue([for r in var.deployer_ip_ranges : !strcontains(r, "/") || (
      can(cidrhost(r, 0)) && try(cidrhost(r, 0) == split("/", r)[0], false) &&
      (tonumber(split("/", r)[1]) <= 30 || tonumber(split("/", r)[1]) == 32)
    )])
    error_message = "deployer_ip_ranges: a range must be written as its network address with a prefix of /30 or shorter (or /32 for one address); Azure Storage refuses /31 ranges and host bits."
  }

  validation {
    # Storage IP rules refuse private ranges; the deployer reaches the
    # public endpoints from a public address anyway.
    condition = alltrue([for r in var.deployer_ip_ranges : !anytrue([
      for p in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] :
      try(cidrhost(format("%s/%s", split("/", r)[0], split("/", p)[1]), 0) == cidrhost(p, 0), false)
    ])])
    error_message = "deployer_ip_ranges must be public addresses: Azure Storage refuses private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) in IP rules."
  }
}

variable "aad_tenant_id" {
  description = "Entra ID tenant whose tokens the API accepts (AAD_TENANT_ID). Required: on App Service the dev token issuer is refused."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.aad_tenant_id))
    error_message = "aad_tenant_id must be a tenant GUID (lower case)."
  }
}

variable "api_client_id" {
  description = "Application (client) id of the API's app registration (API_CLIENT_ID). Its tokens must be v2 (accessTokenAcceptedVersion: 2) and carry the TREAdmin / TREUser app roles."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.api_client_id))
    error_message = "api_client_id must be an application (client) GUID (lower case)."
  }
}

variable "manage_ui_redirect_uris" {
  description = "Register the web UI's redirect URIs (the Function App's root, ui_extra_redirect_uris) on the API's app registration, as single-page-application URIs (infra/ui.tf). The deployer must own that registration; false: add them by hand (docs/deploy.md)."
  type        = bool
  default     = true
}

variable "ui_extra_redirect_uris" {
  description = "More SPA redirect URIs of the API's app registration, e.g. https://tre.example.org/ when a custom domain fronts the Function App (the page sends its origin and /). Each is an https URL (http://localhost for development)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for u in var.ui_extra_redirect_uris : can(regex("^(https://[^/*\\s]+|http://localhost(:[0-9]+)?)/[^*\\s]*$", u)) && length(u) <= 256])
    error_message = "ui_extra_redirect_uris must be https URLs (http only for localhost), without wildcards, of at most 256 characters: Entra ID refuses others."
  }
}

variable "api_audience" {
  description = "Audience tokens must carry (API_AUDIENCE). Empty: the handler uses api_client_id."
  type        = string
  default     = ""
}

variable "application_admin_client_id" {
  description = "Application (client) id of the application admin: the Entra application bundles use, through the aad_auth credential set, to create and update workspace applications (AzureTRE's APPLICATION_ADMIN_CLIENT_ID). docs/deploy.md says how to create it. Stored in the Key Vault as application-admin-client-id."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.application_admin_client_id))
    error_message = "application_admin_client_id must be an application (client) GUID (lower case)."
  }
}

variable "application_admin_client_secret" {
  description = "A client secret of the application admin (AzureTRE's APPLICATION_ADMIN_CLIENT_SECRET). Stored in the Key Vault as application-admin-client-secret; it is in the core's Terraform state too."
  type        = string
  sensitive   = true

  validation {
    # Entra client secrets are 40 characters; a Key Vault secret holds at
    # most 25 KB.
    condition     = length(var.application_admin_client_secret) > 0 && length(var.application_admin_client_secret) <= 25600
    error_message = "application_admin_client_secret must not be empty."
  }
}

variable "aad_authority_url" {
  description = "Entra ID authority (AAD_AUTHORITY_URL); sovereign clouds differ."
  type        = string
  default     = "https://login.microsoftonline.com"

  validation {
    condition     = can(regex("^https://[^/]+$", var.aad_authority_url))
    error_message = "aad_authority_url must be an https URL with no path and no trailing slash."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of both programs: debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "handler_tuning" {
  description = "Limits of the handler's watchdog and request handling (the handler's settings table in README.md explains each). Defaults are the handler's own."
  type = object({
    dispatch_limit   = optional(string, "15m")
    pickup_limit     = optional(string, "1h")
    heartbeat_limit  = optional(string, "10m")
    cancel_grace     = optional(string, "10m")
    max_body_bytes   = optional(number, 1048576)
    shutdown_timeout = optional(string, "20s")
  })
  default = {}

  validation {
    condition = alltrue([
      for d in [var.handler_tuning.dispatch_limit, var.handler_tuning.pickup_limit, var.handler_tuning.heartbeat_limit, var.handler_tuning.cancel_grace, var.handler_tuning.shutdown_timeout] :
      can(regex("^([0-9]+h)?([0-9]+m)?([0-9]+s)?$", d)) && d != ""
    ])
    error_message = "handler_tuning durations must be Go durations in whole hours, minutes and seconds (e.g. 15m, 1h, 1h30m, 20s)."
  }

  validation {
    condition     = var.handler_tuning.max_body_bytes >= 1024 && var.handler_tuning.max_body_bytes == floor(var.handler_tuning.max_body_bytes)
    error_message = "handler_tuning.max_body_bytes must be a whole number of at least 1024."
  }
}

variable "airlock" {
  description = "The airlock (the handler's TRE_AIRLOCK_* settings in README.md): how many distinct airlock managers approve a request (1, AzureTRE's rule, or 2), whether Defender for Storage scans submitted files (and its monthly cap in GB), how long links and scans may take, and who may reach the two accounts users use from outside (import external, export approved; empty: every address, as AzureTRE)."
  type = object({
    required_approvals      = optional(number, 1)
    malware_scanning        = optional(bool, true)
    malware_scanning_cap_gb = optional(number, 5000)
    link_expiry             = optional(string, "1h")
    scan_limit              = optional(string, "1h")
    processing_limit        = optional(string, "2h")
    public_ip_ranges        = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = contains([1, 2], var.airlock.required_approvals)
    error_message = "airlock.required_approvals must be 1 or 2."
  }

  validation {
    condition = alltrue([
      for d in [var.airlock.link_expiry, var.airlock.scan_limit, var.airlock.processing_limit] :
      can(regex("^([0-9]+h)?([0-9]+m)?([0-9]+s)?$", d)) && d != ""
    ])
    error_message = "airlock durations must be Go durations in whole hours, minutes and seconds (e.g. 1h, 90m)."
  }

  validation {
    # Defender for Storage takes -1 (no cap) or a positive number of GB.
    condition     = var.airlock.malware_scanning_cap_gb == -1 || (var.airlock.malware_scanning_cap_gb > 0 && var.airlock.malware_scanning_cap_gb == floor(var.airlock.malware_scanning_cap_gb))
    error_message = "airlock.malware_scanning_cap_gb must be -1 (no cap) or a whole number of GB above 0."
  }

  validation {
    # Storage IP rules, as for deployer_ip_ranges: IPv4 addresses, or ranges
    # written as their network address with a prefix of /30 or shorter.
    condition = alltrue([for r in var.airlock.public_ip_ranges : !strcontains(r, ":") && can(cidrhost(strcontains(r, "/") ? r : "${r}/32", 0)) && (!strcontains(r, "/") || (
      try(cidrhost(r, 0) == split("/", r)[0], false) && (tonumber(split("/", r)[1]) <= 30 || tonumber(split("/", r)[1]) == 32)
    ))])
    error_message = "airlock.public_ip_ranges takes IPv4 addresses, or ranges written as their network address with a prefix of /30 or shorter (Azure Storage refuses /31 ranges, host bits and IPv6)."
  }

  validation {
    # Storage IP rules refuse private ranges.
    condition = alltrue([for r in var.airlock.public_ip_ranges : !anytrue([
      for p in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] :
      try(cidrhost(format("%s/%s", split("/", r)[0], split("/", p)[1]), 0) == cidrhost(p, 0), false)
    ])])
    error_message = "airlock.public_ip_ranges must be public addresses: Azure Storage refuses private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) in IP rules."
  }
}

variable "storage_endpoint_suffix" {
  description = "Blob endpoint suffix of the airlock's storage accounts (https://<account>.blob.<suffix>/): core.windows.net in Azure's public cloud."
  type        = string
  default     = "core.windows.net"

  validation {
    condition     = contains(["core.windows.net", "core.usgovcloudapi.net", "core.chinacloudapi.cn"], var.storage_endpoint_suffix)
    error_message = "storage_endpoint_suffix must be a cloud's storage suffix: core.windows.net, core.usgovcloudapi.net or core.chinacloudapi.cn."
  }
}

variable "agent_heartbeat" {
  description = "How often Resource Processor agents report they are alive: set on both sides from this one value (the handler's TRE_AGENT_HEARTBEAT and the agent's RP_AGENT_HEARTBEAT_INTERVAL must match)."
  type        = string
  default     = "30s"

  validation {
    condition     = can(regex("^([0-9]+h)?([0-9]+m)?([0-9]+s)?$", var.agent_heartbeat)) && var.agent_heartbeat != ""
    error_message = "agent_heartbeat must be a Go duration in whole hours, minutes and seconds (e.g. 30s)."
  }
}

variable "function_plan_sku" {
  description = "SKU of the Linux App Service plan of the Function App. A dedicated plan (Basic, Standard or Premium v3): it supports VNet integration and Always On (timer and Service Bus triggers keep running), and needs no Azure Files content share, so the host storage can refuse shared keys."
  type        = string
  default     = "P0v3"

  validation {
    condition     = can(regex("^(B[1-3]|S[1-3]|P[0-3]v3|P[1-5]mv3)$", var.function_plan_sku))
    error_message = "function_plan_sku must be a dedicated Linux SKU: B1-B3, S1-S3, P0v3-P3v3 or P1mv3-P5mv3 (not Consumption or Elastic Premium, which need a content share with shared keys)."
  }
}

variable "processor_vm_size" {
  description = "Size of the Resource Processor VM: one that takes premium SSDs (its OS disk is Premium_LRS). Bundles run Terraform in Docker: 2 vCPUs and 8 GiB run NUMBER_PROCESSES=2 comfortably."
  type        = string
  default     = "Standard_D2s_v5"

  validation {
    # The OS disk is Premium_LRS, which only premium-storage sizes take:
    # those with an s among their features (D2s_v5, D2as_v5, B2ms) and the
    # DS and GS series.
    condition     = can(regex("^Standard_([A-Z]+S[0-9]+(-[0-9]+)?(_[A-Za-z0-9]+)*|[A-Z]+[0-9]+(-[0-9]+)?[a-z]*s[a-z]*(_[A-Za-z0-9]+)*)$", var.processor_vm_size))
    error_message = "processor_vm_size must be an Azure VM size that takes premium SSDs (an s among its features, e.g. Standard_D2s_v5): the OS disk is Premium_LRS."
  }
}

variable "processor_admin_ssh_public_key" {
  description = "OpenSSH public key of the processor VM's admin account (azureuser): ssh-ed25519, or ssh-rsa of at least 2048 bits. The VM has no public IP: reach it through Azure Bastion or `az vm run-command`."
  type        = string

  validation {
    # Azure takes ssh-rsa keys of at least 2048 bits (372 base64 characters)
    # and ssh-ed25519 keys; it refuses ECDSA keys.
    condition = (
      can(regex("^(ssh-rsa|ssh-ed25519) [A-Za-z0-9+/]+=*( .*)?$", var.processor_admin_ssh_public_key)) &&
      (!startswith(var.processor_admin_ssh_public_key, "ssh-rsa ") || length(split(" ", var.processor_admin_ssh_public_key)[1]) >= 372)
    )
    error_message = "processor_admin_ssh_public_key must be an OpenSSH ssh-ed25519 key, or an ssh-rsa key of at least 2048 bits (Azure refuses ECDSA keys and shorter RSA keys)."
  }
}

variable "processor_number_processes" {
  description = "NUMBER_PROCESSES of the agent: requests (of different resources) run at once. More than a few makes ARM throttle bundles (AzureTRE #2961)."
  type        = number
  default     = 2

  validation {
    condition     = var.processor_number_processes >= 1 && var.processor_number_processes <= 16 && var.processor_number_processes == floor(var.processor_number_processes)
    error_message = "processor_number_processes must be a whole number from 1 to 16."
  }
}

variable "processor_egress_fqdns" {
  description = "Host names the processor VM may reach through the firewall over HTTPS (and HTTP, for apt): what processor-vm/cloud-init.yaml downloads (Ubuntu's packages, Docker among them; the Azure CLI) and what Porter fetches for itself, its mixins and its azure plugin. Azure endpoints (Entra ID, ARM, Monitor, Key Vault) are allowed by service tag in the core rules; bundles bring Terraform and its providers in their images."
  type        = list(string)
  default = [
    # Ubuntu's archive and security updates (Azure's mirror).
    "azure.archive.ubuntu.com",
    "security.ubuntu.com",
    # The Azure CLI's apt repository and its signing key.
    "packages.microsoft.com",
    # Porter, its mixins and plugins: cdn.porter.sh redirects the feeds to
    # raw.githubusercontent.com and the binaries to GitHub releases, which
    # GitHub serves from its release-asset hosts.
    "cdn.porter.sh",
    "raw.githubusercontent.com",
    "github.com",
    "objects.githubusercontent.com",
    "release-assets.githubusercontent.com",
  ]

  validation {
    condition     = alltrue([for f in var.processor_egress_fqdns : can(regex("^(\\*\\.)?([a-z0-9-]+\\.)+[a-z]{2,}$", f))])
    error_message = "processor_egress_fqdns must be host names (a leading *. wildcard is allowed)."
  }
}

variable "availability_zones" {
  description = "Availability zones of the firewall and its public address. Azure refuses zones in a region that has none: set [] there (see az account list-locations, availabilityZoneMappings)."
  type        = list(string)
  default     = ["1", "2", "3"]

  validation {
    condition     = alltrue([for z in var.availability_zones : contains(["1", "2", "3"], z)]) && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must be distinct zones among \"1\", \"2\" and \"3\", or empty in a region without zones."
  }
}

variable "firewall_sku_tier" {
  description = "Azure Firewall tier: Standard or Premium (TLS inspection, IDPS)."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Standard", "Premium"], var.firewall_sku_tier)
    error_message = "firewall_sku_tier must be Standard or Premium (Basic needs a management subnet this configuration does not create)."
  }
}

variable "firewall_group_prefix" {
  description = "Prefix of the rule collection groups the firewall service manages (TRE_FIREWALL_GROUP_PREFIX). The core's own group does not start with it, so the service never touches it."
  type        = string
  default     = "rcg-tre-"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}-$", var.firewall_group_prefix)) && !startswith("rcg-core", var.firewall_group_prefix)
    error_message = "firewall_group_prefix must be lower-case letters, digits and dashes ending in a dash, and must not be a prefix of the core group's name (rcg-core)."
  }
}

variable "firewall_group_priorities" {
  description = "Priorities of the firewall service's four rule collection groups, as TRE_FIREWALL_PRIORITIES: admins' network, admins' application, TRE's network, TRE's application. Azure takes 100 to 65000, one group per priority. The core group (rcg-core) has 100; 500 to 599 are left to AzureTRE's own groups (its rcg-core 500, airlock notifier 501, firewall shared service 510 and 520)."
  type        = string
  default     = "300,310,400,410"

  validation {
    condition = (
      can(regex("^[0-9]{3,5},[0-9]{3,5},[0-9]{3,5},[0-9]{3,5}$", var.firewall_group_priorities)) &&
      alltrue([for p in split(",", var.firewall_group_priorities) : tonumber(p) >= 101 && tonumber(p) <= 65000 && (tonumber(p) < 500 || tonumber(p) > 599)]) &&
      length(distinct(split(",", var.firewall_group_priorities))) == 4 &&
      tonumber(split(",", var.firewall_group_priorities)[0]) < tonumber(split(",", var.firewall_group_priorities)[2]) &&
      tonumber(split(",", var.firewall_group_priorities)[1]) < tonumber(split(",", var.firewall_group_priorities)[3])
    )
    error_message = "firewall_group_priorities must be four distinct priorities from 101 to 65000 (100 is rcg-core's), none from 500 to 599 (AzureTRE's groups), the admins' below the TRE's, e.g. 300,310,400,410."
  }
}

variable "log_retention_days" {
  description = "Retention of the Log Analytics workspace and of Application Insights (function traces, processor syslog), in days. Application Insights takes 30, 60, 90, 120, 180, 270, 365, 550 or 730 only (the workspace takes any number from 30 to 730)."
  type        = number
  default     = 90

  validation {
    condition     = contains([30, 60, 90, 120, 180, 270, 365, 550, 730], var.log_retention_days)
    error_message = "log_retention_days must be one of 30, 60, 90, 120, 180, 270, 365, 550 or 730 (the values Application Insights accepts)."
  }
}

variable "tags" {
  description = "Tags added to every resource (tre_id is always added)."
  type        = map(string)
  default     = {}

  validation {
    # Azure: at most 50 tags a resource (tre_id is one), names of at most
    # 128 characters on storage accounts (512 elsewhere) without < > % & \ ?
    # or /, values of at most 256 characters.
    condition = length(var.tags) <= 49 && alltrue([
      for k, v in var.tags : length(k) > 0 && length(k) <= 128 && !can(regex("[<>%&\\\\?/]", k)) && length(v) <= 256
    ])
    error_message = "tags: at most 49, names of 1 to 128 characters without < > % & \\ ? or /, values of at most 256 characters."
  }
}

variable "traces" {
  description = "Where the handler exports its OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS): an OTLP/HTTP endpoint, such as an OpenTelemetry Collector that forwards to Application Insights (docs/monitoring.md), and the headers it wants (key=value,...; an ingestion key, say: it is an app setting of the Function App). Empty endpoint: no traces; the logs reach Application Insights through the Functions host either way."
  type = object({
    otlp_endpoint = optional(string, "")
    otlp_headers  = optional(string, "")
  })
  default   = {}
  sensitive = true

  validation {
    condition     = var.traces.otlp_endpoint == "" || can(regex("^https?://[^/]+(/.*)?$", var.traces.otlp_endpoint))
    error_message = "traces.otlp_endpoint must be empty or an http(s) URL."
  }
}

variable "microsoft_graph_fqdn" {
  description = "Microsoft Graph's host name, passed to bundles as microsoft_graph_fqdn (MICROSOFT_GRAPH_FQDN of the processor): graph.microsoft.com, or a sovereign cloud's (graph.microsoft.us, microsoftgraph.chinacloudapi.cn)."
  type        = string
  default     = "graph.microsoft.com"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.microsoft_graph_fqdn))
    error_message = "microsoft_graph_fqdn must be a host name, such as graph.microsoft.com (no scheme, no path)."
  }
}
