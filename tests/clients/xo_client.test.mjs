// Xen Orchestra's XenAPI client (npm xen-api, pinned in package-lock.json)
// against a running xenrdpd, with event watching on: connect, find the VMs
// and guest metrics in its object cache, call request-rdp-on, and receive
// the data-ts change through event.from.
//
// Run by run_xo_client_test.py, which starts the sandbox, the simulated
// guest agent and xenrdpd, and passes XAPI_URL / XAPI_USER / XAPI_PASSWORD.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createClient } from 'xen-api'

const url = process.env.XAPI_URL
const user = process.env.XAPI_USER
const password = process.env.XAPI_PASSWORD

async function waitFor (what, predicate, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    const value = predicate()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, delay))
  }
}

function vmNamed (xapi, name) {
  return Object.values(xapi.objects.all).find(o => o.$type === 'VM' && o.name_label === name)
}

test('xen-api connects, caches VMs and guest metrics, and sees RDP turn on through event.from', async () => {
  const xapi = createClient({ url, auth: { user, password }, allowUnauthorized: true })
  try {
    await xapi.connect()
    await xapi.objectsFetched

    const vm = await waitFor('the guest VM in the cache', () => vmNamed(xapi, 'win10-rdp'))
    assert.equal(vm.power_state, 'Running')
    const pool = Object.values(xapi.objects.all).find(o => o.$type === 'pool')
    assert.ok(pool, 'the pool is cached')

    const gmRef = vm.guest_metrics
    assert.notEqual(gmRef, 'OpaqueRef:NULL')
    const gm = await waitFor('guest metrics with feature-ts2', () => {
      const m = xapi.getObjectByRef(gmRef, undefined)
      return m && m.other['feature-ts2'] === '1' ? m : undefined
    })
    assert.equal(gm.other['data-ts'], '0')
    assert.equal(gm.networks['0/ip'], '192.0.2.20')

    const result = await xapi.call('VM.call_plugin', vm.$ref, 'guest-agent-operation', 'request-rdp-on', {})
    assert.equal(result, '')

    // The cache is only fed by event.from: this proves the event path.
    const updated = await waitFor('data-ts = 1 through event.from', () => {
      const m = xapi.getObjectByRef(gmRef, undefined)
      return m && m.other['data-ts'] === '1' ? m : undefined
    })
    assert.equal(updated.other['feature-ts'], '1')
  } finally {
    await xapi.disconnect()
  }
})

test('xen-api gets XenAPI errors with their parameters', async () => {
  const xapi = createClient({ url, auth: { user, password }, allowUnauthorized: true, watchEvents: false })
  try {
    await xapi.connect()
    const vms = await xapi.call('VM.get_all_records')
    const [ref] = Object.entries(vms).find(([, r]) => r.name_label === 'win-no-agent')
    await assert.rejects(
      xapi.call('VM.call_plugin', ref, 'guest-agent-operation', 'request-rdp-on', {}),
      err => err.code === 'XENAPI_PLUGIN_FAILURE' && err.params[0] === 'failed to execute fn'
    )
    await assert.rejects(
      xapi.call('VM.call_plugin', ref, 'no-such-plugin', 'request-rdp-on', {}),
      err => err.code === 'XENAPI_MISSING_PLUGIN' && err.params[0] === 'no-such-plugin'
    )
  } finally {
    await xapi.disconnect()
  }
})
