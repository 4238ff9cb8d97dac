// Evaluates a batch of IAM requests with @cloud-copilot/iam-simulate (test-time only, AGPL-3.0,
// never shipped). Driven by tests/iam/access_model.py: one process per batch.
//
// stdin:  {"evaluations": [{"id", "principal", "action", "resource", "resourceAccount",
//          "context": {key: value}, "identityPolicies": [{"name", "policy"}],
//          "resourcePolicy"?: {...}, "endpointPolicies"?: [{"name", "policy"}],
//          "serviceControlPolicies"?: [{"orgIdentifier", "policies": [{"name", "policy"}]}],
//          "resourceControlPolicies"?: [...same...], "unfilteredContext"?: true}]}
// stdout: {"version", "results": [{"id", "decision", "parts", "validatedDecision",
//          "ignoredContextKeys", "errors"}]}  (parts: identity/resource/endpoint results)
//
// Every evaluation goes through the public, validating runSimulation(): policies are checked
// by iam-policy, the action against iam-data, the resource against the action's resource types,
// and context keys that do not apply to the action/resource type are reported as ignored.
//
// One exception, asked for with "unfilteredContext": the bucket half of a request made through
// an access point. iam-data (built from AWS's Service Authorization Reference) lists
// s3:DataAccessPointArn, s3:DataAccessPointAccount and s3:AccessPointNetworkOrigin only for the
// accesspoint/accesspointobject resource types, so runSimulation drops them when the resource
// is the bucket ARN. In AWS the bucket policy does see them (that is how a bucket policy
// delegates to access points). For those evaluations the decision comes from the same engine
// function runSimulation calls, authorize(), with the full context; the validated decision is
// returned too, so the tests can show the difference.
import { readFileSync } from 'node:fs'
import { runSimulation, typeForContextKey, isConditionKeyArray } from '@cloud-copilot/iam-simulate'
import { loadPolicy } from '@cloud-copilot/iam-policy'

// authorize() and the request classes are internal modules, reached by path from the package's
// entry point: the exact pin keeps them where they are, and a version that moves them fails
// loudly here rather than deciding anything.
const packageIndex = import.meta.resolve('@cloud-copilot/iam-simulate')
const internal = async (path) => import(new URL(path, packageIndex).href)
const { authorize } = await internal('./core_engine/CoreSimulatorEngine.js')
const { AwsRequestImpl } = await internal('./request/request.js')
const { RequestContextImpl } = await internal('./requestContext.js')
const { DiscoveryContextKeyConstraints } = await internal(
  './context_keys/discoveryContextKeyConstraints.js'
)
const simulateVersion = JSON.parse(
  readFileSync(new URL('../../package.json', packageIndex), 'utf8')
).version

function simulation(evaluation) {
  return {
    request: {
      principal: evaluation.principal,
      action: evaluation.action,
      resource: { resource: evaluation.resource, accountId: evaluation.resourceAccount },
      contextVariables: evaluation.context ?? {}
    },
    identityPolicies: evaluation.identityPolicies ?? [],
    serviceControlPolicies: evaluation.serviceControlPolicies ?? [],
    resourceControlPolicies: evaluation.resourceControlPolicies ?? [],
    resourcePolicy: evaluation.resourcePolicy ?? undefined,
    vpcEndpointPolicies: evaluation.endpointPolicies ?? undefined
  }
}

// The context as runSimulation normalises it (array-typed keys become arrays), minus its filter.
async function fullContext(context) {
  const values = {}
  for (const [key, value] of Object.entries(context ?? {})) {
    const type = await typeForContextKey(key.toLowerCase())
    values[key] = isConditionKeyArray(type) ? [value].flat() : [value].flat()[0]
  }
  return values
}

// As runSimulation loads them; it adds AWS's default RCPFullAWSAccess, so the same is done here.
const RCP_FULL_AWS_ACCESS = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }]
}
function orgPolicies(levels, defaultPolicy) {
  return (levels ?? []).map((level) => ({
    orgIdentifier: level.orgIdentifier,
    policies: [
      ...(defaultPolicy ? [loadPolicy(defaultPolicy, { name: 'RCPFullAWSAccess' })] : []),
      ...level.policies.map((p) => loadPolicy(p.policy, { name: p.name }))
    ]
  }))
}

async function unfilteredAnalysis(evaluation) {
  const named = (p) => loadPolicy(p.policy, { name: p.name })
  const analysis = authorize({
    request: new AwsRequestImpl(
      evaluation.principal,
      { resource: evaluation.resource, accountId: evaluation.resourceAccount },
      evaluation.action,
      new RequestContextImpl(await fullContext(evaluation.context)),
      false
    ),
    sessionPolicy: undefined,
    identityPolicies: (evaluation.identityPolicies ?? []).map(named),
    serviceControlPolicies: orgPolicies(evaluation.serviceControlPolicies),
    resourceControlPolicies: orgPolicies(evaluation.resourceControlPolicies, RCP_FULL_AWS_ACCESS),
    resourcePolicy: evaluation.resourcePolicy
      ? loadPolicy(evaluation.resourcePolicy, { name: 'ResourcePolicy' })
      : undefined,
    permissionBoundaries: undefined,
    vpcEndpointPolicies: evaluation.endpointPolicies
      ? evaluation.endpointPolicies.map(named)
      : undefined,
    simulationParameters: {
      simulationMode: 'Strict',
      discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([])
    },
    serviceSettings: { s3: {} }
  })
  return analysis
}

// What each kind of policy said, for failure messages.
function parts(analysis) {
  return {
    identity: analysis.identityAnalysis?.result ?? null,
    resource: analysis.resourceAnalysis?.result ?? null,
    endpoint: analysis.endpointAnalysis?.result ?? null,
    scp: analysis.scpAnalysis?.result ?? null,
    rcp: analysis.rcpAnalysis?.result ?? null
  }
}

async function evaluate(evaluation) {
  const response = await runSimulation(simulation(evaluation), { simulationMode: 'Strict' })
  if (response.resultType === 'error') {
    return { id: evaluation.id, decision: 'Error', errors: response.errors }
  }
  if (response.resultType !== 'single') {
    return {
      id: evaluation.id,
      decision: 'Error',
      errors: { message: `expected one concrete resource, got ${response.resultType}` }
    }
  }
  const validatedDecision = response.overallResult
  const analysis = evaluation.unfilteredContext
    ? await unfilteredAnalysis(evaluation)
    : response.result.analysis
  return {
    id: evaluation.id,
    decision: analysis.result,
    parts: parts(analysis),
    validatedDecision,
    resourceType: response.result.resourceType ?? null,
    ignoredContextKeys: response.result.ignoredContextKeys ?? []
  }
}

const batch = JSON.parse(readFileSync(0, 'utf8'))
const results = []
for (const evaluation of batch.evaluations) {
  try {
    results.push(await evaluate(evaluation))
  } catch (error) {
    results.push({ id: evaluation.id, decision: 'Error', errors: { message: String(error) } })
  }
}
process.stdout.write(JSON.stringify({ version: simulateVersion, results }))
