// Completed SFTP (and blob API) uploads → the function app's Event Grid blob trigger (receive_drop).
//
// Why a webhook and not a Storage Queue endpoint: function_app.py declares receive_drop as a blob
// trigger with source=EVENT_GRID, which Flex Consumption requires for blob triggers and which gives
// the function the blob itself, blob receipts and the poison-blob threshold. A queue endpoint would
// be fully declarable but needs a different trigger (queue + parsing the event + reading the blob).
// The price: the webhook URL carries the host's blobs_extension system key, which exists only once
// the code is deployed. So this module is deployed on the second provision, after `azd deploy`
// (infra/hooks/postdeploy.sh sets BILAGSBRO_SFTP_EVENTS=true and provisions again). The key is read
// in-template with listKeys and sent straight to Event Grid: it is never an output or a parameter.

param systemTopicName string
param functionAppName string
@description('Name of the blob-triggered function in function_app.py.')
param functionName string = 'receive_drop'

var names = loadJsonContent('../names.json')

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: systemTopic
  name: 'sftp-drops'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${functionApp.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${functionName}&code=${listKeys('${functionApp.id}/host/default', '2024-04-01').systemKeys.blobs_extension}'
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${names.sftpContainer}/'
      // Only committed writes: SFTP emits SftpCreate when a file is opened and SftpCommit when it is
      // complete; CopyBlob is left out because nothing copies into the drop container.
      // https://learn.microsoft.com/azure/event-grid/event-schema-blob-storage
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.api'
          values: [
            'PutBlob'
            'PutBlockList'
            'FlushWithClose'
            'SftpCommit'
          ]
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}
