# The web UI: the Function App serves it at its root (host.json, functions/ui
# and functions/ui-assets) and it signs users in with the API's own app
# registration, as a single-page application (authorization code with PKCE,
# no secret). Entra ID sends the code back only to a registered redirect
# URI of the SPA platform: the Function App's root, and any extra ones
# (another host name in front of it).
#
# The deployer must own the API's app registration (or hold the Application
# Administrator role) for Terraform to add them; with manage_ui_redirect_uris
# = false, add them by hand instead (docs/deploy.md). This resource owns
# every SPA redirect URI of the registration: list others in
# ui_extra_redirect_uris.
data "azuread_application" "api" {
  count     = var.manage_ui_redirect_uris ? 1 : 0
  client_id = var.api_client_id
}

resource "azuread_application_redirect_uris" "ui" {
  count          = var.manage_ui_redirect_uris ? 1 : 0
  application_id = data.azuread_application.api[0].id
  type           = "SPA"
  redirect_uris  = concat(["${module.functionapp.base_url}/"], var.ui_extra_redirect_uris)
}
