// The function app on Flex Consumption (FC1), Python 3.11, reaching every account through the one
// user-assigned identity: identity-based connections only, no account keys or connection strings.
// Model: Azure-Samples/azure-functions-flex-consumption-samples IaC/bicep/main.bicep.

param location string
param planName string
param appName string
param identityId string
param identityClientId string
param hostStorageName string
param deploymentContainerName string
param dataStorageName string
param sftpStorageName string
param applicationInsightsName string
param keyVaultUri string
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100
param tags object = {}

var names = loadJsonContent('../names.json')
var storageSuffix = environment().suffixes.storage
var hostBlob = 'https://${hostStorageName}.blob.${storageSuffix}'
var hostQueue = 'https://${hostStorageName}.queue.${storageSuffix}'

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Flex allows one app per plan.
resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostBlob}/${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Flex rejects FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE:
// runtime and deployment live in functionAppConfig above.
// https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: {
    // The host's own storage (keys, leases, blob-trigger receipts).
    AzureWebJobsStorage__blobServiceUri: hostBlob
    AzureWebJobsStorage__queueServiceUri: hostQueue
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    // pipeline.names.STORAGE_CONNECTION: the queue triggers/outputs and the code's own clients.
    '${names.storageConnection}__blobServiceUri': 'https://${dataStorageName}.blob.${storageSuffix}'
    '${names.storageConnection}__queueServiceUri': 'https://${dataStorageName}.queue.${storageSuffix}'
    '${names.storageConnection}__tableServiceUri': 'https://${dataStorageName}.table.${storageSuffix}'
    '${names.storageConnection}__credential': 'managedidentity'
    '${names.storageConnection}__clientId': identityClientId
    // pipeline.names.SFTP_CONNECTION: the Event Grid blob trigger on SFTP drops; a blob trigger also
    // needs the queue endpoint of its account (poison blobs).
    '${names.sftpConnection}__blobServiceUri': 'https://${sftpStorageName}.blob.${storageSuffix}'
    '${names.sftpConnection}__queueServiceUri': 'https://${sftpStorageName}.queue.${storageSuffix}'
    '${names.sftpConnection}__credential': 'managedidentity'
    '${names.sftpConnection}__clientId': identityClientId
    // connectors/secrets.py KEYVAULT_SETTING; DefaultAzureCredential there picks the identity from
    // AZURE_CLIENT_ID.
    BILAGSBRO_KEYVAULT_URL: keyVaultUri
    AZURE_CLIENT_ID: identityClientId
    // OpenTelemetry (host.json telemetryMode): the worker configures the Azure Monitor exporter itself.
    // The ingestion string is not a credential: DisableLocalAuth makes the endpoint accept only the
    // Entra ID token named by the authentication string.
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
    // Timer schedules (NCRONTAB, UTC) that function_app.py names as %SETTING%; without them the app
    // does not index. sweep: a document whose progress stalled is queued again (docs/decisions/0003).
    // Above the app's own limits (pipeline/api.py: 100 MB files, 10 MiB of JSON), so an oversized upload
    // gets the app's JSON 413; past this the host answers an empty 500 (Azure/azure-functions-host#10519).
    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '209715200'
    SWEEP_SCHEDULE: '*/15 * * * * *'
    OMNIUM_PULL_SCHEDULE: '0 */5 * * * *'
    // ledger_refresh: each company's read-back ledger, the periods that changed (pipeline/readback).
    LEDGER_SYNC_SCHEDULE: '0 */15 * * * *'
    CONNECTION_TEST_SCHEDULE: '0 15 4 * * *'
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
