// Bilagsbro in Azure: one function app on Flex Consumption in Norway East, its three storage accounts
// (host, data, SFTP drops), Key Vault, Application Insights and alerts, all reached through one
// user-assigned identity. Deploy with `azd up` (azure.yaml) or `az deployment group create`; see
// docs/operations.md. Every queue, table and container name comes from names.json, generated from
// pipeline/names.py by `python -m infra.names`.

targetScope = 'resourceGroup'

@description('azd environment name (dev, test, prod); part of every resource name.')
@minLength(1)
@maxLength(16)
param environmentName string

// Norway East only: customers' accounting data stays in Norway (ZRS everywhere, no geo replica).
@description('Azure region.')
@allowed([
  'norwayeast'
])
param location string = 'norwayeast'

@description('SFTP local users, one per tenant: [{ tenant, sshKeys: [{ key, description }], permissions? }]. See docs/operations.md.')
param sftpUsers array = []

@description('Create the Event Grid subscription for SFTP drops; true only once the code is deployed (infra/hooks/postdeploy.sh).')
param sftpEventsEnabled bool = false

@description('Mailbox for alerts; empty for none.')
param alertEmail string = ''

@description('Entra ID object id (e.g. the operators group) that may manage Key Vault secrets by hand.')
param operatorsObjectId string = ''

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var prefix = 'bilagsbro-${environmentName}'
var tags = {
  'azd-env-name': environmentName
  application: 'bilagsbro'
}
var appName = 'func-${prefix}-${token}'
var deploymentContainerName = 'app-package-${take(token, 8)}'

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    location: location
    name: 'id-${prefix}'
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    workspaceName: 'log-${prefix}'
    applicationInsightsName: 'appi-${prefix}'
    principalId: identity.outputs.principalId
    tags: tags
  }
}

module hostStorage 'modules/host-storage.bicep' = {
  name: 'host-storage'
  params: {
    location: location
    name: take('sthost${token}', 24)
    deploymentContainerName: deploymentContainerName
    principalId: identity.outputs.principalId
    tags: tags
  }
}

module dataStorage 'modules/data-storage.bicep' = {
  name: 'data-storage'
  params: {
    location: location
    name: take('stdata${token}', 24)
    principalId: identity.outputs.principalId
    tags: tags
  }
}

module sftpStorage 'modules/sftp-storage.bicep' = {
  name: 'sftp-storage'
  params: {
    location: location
    name: take('stsftp${token}', 24)
    systemTopicName: 'evgt-${prefix}-sftp'
    principalId: identity.outputs.principalId
    sftpUsers: sftpUsers
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    name: take('kv-bb-${environmentName}-${token}', 24)
    principalId: identity.outputs.principalId
    operatorsObjectId: operatorsObjectId
    tags: tags
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    location: location
    planName: 'plan-${prefix}'
    appName: appName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    hostStorageName: hostStorage.outputs.name
    deploymentContainerName: deploymentContainerName
    dataStorageName: dataStorage.outputs.name
    sftpStorageName: sftpStorage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultUri: keyVault.outputs.uri
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    tags: tags
  }
}

module sftpEvents 'modules/sftp-events.bicep' = if (sftpEventsEnabled) {
  name: 'sftp-events'
  params: {
    systemTopicName: sftpStorage.outputs.systemTopicName
    functionAppName: functionApp.outputs.name
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    namePrefix: prefix
    alertEmail: alertEmail
    tags: tags
  }
}

// azd reads these into the environment (names and endpoints only; nothing here grants access).
output AZURE_LOCATION string = location
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output BILAGSBRO_DATA_ACCOUNT string = dataStorage.outputs.name
output BILAGSBRO_SFTP_ACCOUNT string = sftpStorage.outputs.name
output BILAGSBRO_SFTP_HOST string = '${sftpStorage.outputs.name}.blob.${environment().suffixes.storage}'
output BILAGSBRO_KEYVAULT_URL string = keyVault.outputs.uri
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
