// The one user-assigned identity the function app uses for storage, Key Vault and telemetry.
// User-assigned (not system-assigned) so role assignments exist before the app's first start and
// survive re-creating the app.

param location string
param name string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
