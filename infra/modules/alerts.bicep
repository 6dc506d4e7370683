// Alerts an operator acts on: a document gave up (poison) and a delivery to an accounting system failed.
//
// Why log queries and not a queue-length metric: Azure Monitor's storage metrics give only the total
// message count per account (QueueMessageCount has no queue-name dimension), and the poison queues
// are drained at once by the *_poison functions in function_app.py, which write the trace and log
// "document <tenant>/<document> poisoned in <queue>" (pipeline/stages.py poisoned()). So "a poison
// queue is not empty" is observed as "a poison handler logged in the last window".

param location string
param applicationInsightsId string
param namePrefix string
@description('Where alerts are mailed; empty creates the rules without an action group.')
param alertEmail string = ''
param tags object = {}

var names = loadJsonContent('../names.json')

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}-operators'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'bilagsbro'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actions = empty(alertEmail) ? [] : [
  actionGroup.id
]

// Poison: the handler's log line (or an unreadable message) in any of names.poisonQueues.
resource poisonAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${namePrefix}-poison-not-empty'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Bilagsbro: a message reached a poison queue'
    description: 'A document gave up after maxDequeueCount tries in one of: ${join(names.poisonQueues, ', ')}. Its trace (GET /api/v1/documents/{id}) says why; fix the cause and POST .../retry.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'traces | where message has " poisoned in " or message startswith "unreadable message in "'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: actions
    }
  }
}

// Delivery failures: the deliver stage's span failed (requests, from pipeline/telemetry.py
// stage_span, named after the stage) or it logged "stage deliver failed for ..." before a retry.
// Each try counts, so one flaky target shows up before its message is poisoned.
resource deliveryAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${namePrefix}-delivery-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Bilagsbro: deliveries to an accounting system are failing'
    description: 'The deliver stage failed; see customDimensions["bilagsbro.tenant"] / ["bilagsbro.document"] and the document trace.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'union (requests | where name == "deliver" and success == false), (traces | where message startswith "stage deliver failed"), (exceptions | where operation_Name == "deliver")'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actions
    }
  }
}
