// The SFTP drop account: hierarchical namespace with SFTP on, one local user per tenant (SSH keys
// only) whose home is sftp/<tenant>, and the Event Grid system topic that reports completed uploads.
// Its own account because SFTP needs HNS, and HNS rules out blob versioning and immutability that the
// data account may want later (Learn: storage-feature-support-in-storage-accounts).

param location string
param name string
param systemTopicName string
param principalId string
@description('One entry per tenant: { tenant: \'<tenant id>\', sshKeys: [ { key: \'ssh-ed25519 AAAA...\', description: \'...\' } ], permissions: \'cw\' (optional) }')
param sftpUsers array = []
param tags object = {}

var names = loadJsonContent('../names.json')

// Built-in roles, https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
// The blob trigger's connection needs Blob Data Owner and Queue Data Contributor on its account (it
// keeps its poison queue, webjobs-blobtrigger-poison, there); Learn: functions-bindings-storage-blob-trigger.
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'

// ZRS for the same reason as the data account: in-region only. Redundancy cannot change while SFTP
// is on, so choose it here, once.
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
    isHnsEnabled: true
    isSftpEnabled: true
    isLocalUserEnabled: true
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

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: names.sftpContainer
  properties: {
    publicAccess: 'None'
  }
}

// Local users authenticate with their SSH public keys only (no Azure-generated password). Permission
// scopes are per container, so a user with list/read could see other tenants' folders: the default
// 'cw' (create, write) lets a vendor upload into its home folder and nothing else.
// https://learn.microsoft.com/azure/storage/blobs/secure-file-transfer-protocol-support
// Local user names allow only lowercase letters and digits (3-64), tenant ids (pipeline/tenants.py)
// are slugs with hyphens: the user is the tenant id without its hyphens; its home keeps the real id.
resource localUsers 'Microsoft.Storage/storageAccounts/localUsers@2023-05-01' = [for user in sftpUsers: {
  parent: account
  name: replace(user.tenant, '-', '')
  properties: {
    homeDirectory: '${names.sftpContainer}/${user.tenant}'
    hasSshPassword: false
    hasSshKey: true
    hasSharedKey: false
    sshAuthorizedKeys: user.sshKeys
    permissionScopes: [
      {
        service: 'blob'
        resourceName: names.sftpContainer
        permissions: contains(user, 'permissions') ? user.permissions : 'cw'
      }
    ]
  }
  dependsOn: [
    container
  ]
}]

// Drops are copied into the data account's `received` container at intake, so the SFTP copy follows
// the same retention.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-drops'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${names.sftpContainer}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterCreationGreaterThan: names.retentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
  dependsOn: [
    container
  ]
}

// The source of BlobCreated events; its subscription (sftp-events.bicep) needs the function app's
// blobs_extension key, which exists only after the code is deployed.
resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  properties: {
    source: account.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

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
output systemTopicName string = systemTopic.name
