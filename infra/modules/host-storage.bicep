// The Functions host's own account (AzureWebJobsStorage): keys, leases, blob-trigger receipts and the
// Flex deployment package. Kept apart from the data so no lifecycle rule can ever touch the host's
// azure-webjobs-* containers (which would delete function keys; Learn: storage-considerations).

param location string
param name string
param deploymentContainerName string
param principalId string
param tags object = {}

// Built-in roles, https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'

// Zone-redundant, not geo: GRS/GZRS would copy to the paired region Norway West, which is still in
// Norway but an extra copy we neither need nor want to account for; ZRS survives a zone failure and
// keeps every byte in Norway East.
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_ZRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Blob Data Owner: Flex reads the deployment package with this identity and the host keeps keys and
// leases in blobs. Queue Data Contributor: "the AzureWebJobsStorage connection is used internally for
// blobs and queues that enable the [blob] trigger" (Learn: functions-bindings-storage-blob-trigger,
// identity-based connections). No table role: the host does not use tables here.
resource grants 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in [storageBlobDataOwner, storageQueueDataContributor]: {
  name: guid(account.id, principalId, roleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
