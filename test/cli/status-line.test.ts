import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { colourWanted, componentPart } from '../../cli/status-line.ts';

const YELLOW = '\x1b[33m';
const RESET = '\x1b[0m';

describe('the up status line', () => {
  it('shows each state with its symbol', () => {
    const part = (state: 'starting' | 'ok' | 'degraded' | 'failed') =>
      componentPart('collector', { state, summary: '12 ev/s, 0 dropped' }, false);
    assert.equal(part('ok'), 'collector ✓ 12 ev/s, 0 dropped');
    assert.equal(part('starting'), 'collector … 12 ev/s, 0 dropped');
    assert.equal(part('degraded'), 'collector ! 12 ev/s, 0 dropped');
    assert.equal(part('failed'), 'collector ✗ 12 ev/s, 0 dropped');
  });

  it('is yellow for a degraded component only: ok with truncations stays green', () => {
    const truncated = componentPart(
      'collector',
      { state: 'ok', summary: '12 ev/s, 0 dropped, 3 truncated' },
      true,
    );
    assert.equal(truncated, `\x1b[32mcollector ✓ 12 ev/s, 0 dropped, 3 truncated${RESET}`);
    const lossy = componentPart('collector', { state: 'degraded', summary: '12 ev/s, 5 dropped' }, true);
    assert.equal(lossy, `${YELLOW}collector ! 12 ev/s, 5 dropped${RESET}`);
    assert.equal(
      componentPart('collector', { state: 'starting', summary: 'starting capture' }, true),
      'collector … starting capture',
    );
  });

  it('colours a terminal only, and never with NO_COLOR', () => {
    assert.equal(colourWanted({ isTTY: true }, {}), true);
    assert.equal(colourWanted({ isTTY: false }, {}), false);
    assert.equal(colourWanted({}, {}), false);
    assert.equal(colourWanted({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(
      colourWanted({ isTTY: true }, { NO_COLOR: '' }),
      true,
      'an empty NO_COLOR is unset (no-color.org)',
    );
  });
});
