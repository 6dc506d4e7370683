// The vault for tenants' connection secrets (target API tokens and the like), authorised by RBAC only.
// Code reads secrets by name without a version (connectors/secrets.py), so a new version takes effect
// on the next read: rotation needs no redeploy.

param location string
param name string
param principalId string
@description('Entra ID object id allowed to manage secrets by hand (e.g. the operators group); empty for none.')
param operatorsObjectId string = ''
param tags object = {}

// Secrets Officer, not Secrets User: PUT /v1/admin/tenants/{id}/connection writes the tenant's
// credentials through SecretStore.set, so the app must create secret versions, not only read them.
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource appSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource operatorSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorsObjectId)) {
  name: guid(vault.id, operatorsObjectId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: operatorsObjectId
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
