// A minimal tape-compatible runner for `crew eval` cases (not upstream code; written for
// crew, MIT like crew). It covers what the cases' upstream tests use: test(name, fn) with
// t.plan, t.end, t.equal, t.strictEqual, t.deepEqual, t.same, t.notEqual, t.ok, t.notOk,
// t.throws. It prints TAP ("ok N name" / "not ok N name") and exits 1 on any failure.
'use strict';
var assert = require('assert');
var queue = [];
var count = 0;
var failed = 0;

function report(ok, name, detail) {
    count += 1;
    if (!ok) failed += 1;
    console.log((ok ? 'ok ' : 'not ok ') + count + ' ' + name);
    if (!ok && detail) console.log('  # ' + String(detail).split('\n').join('\n  # '));
}

function makeT(name, done) {
    var planned = null;
    var seen = 0;
    var finished = false;
    function finish() {
        if (finished) return;
        finished = true;
        if (planned !== null && seen !== planned) report(false, name, 'plan ' + planned + ', ran ' + seen);
        done();
    }
    function check(fn, msg) {
        seen += 1;
        try { fn(); report(true, name + (msg ? ': ' + msg : '')); }
        catch (e) { report(false, name, e.message); }
        if (planned !== null && seen === planned) finish();
    }
    return {
        plan: function (n) { planned = n; },
        end: finish,
        equal: function (a, b, m) { check(function () { assert.strictEqual(a, b); }, m); },
        strictEqual: function (a, b, m) { check(function () { assert.strictEqual(a, b); }, m); },
        notEqual: function (a, b, m) { check(function () { assert.notStrictEqual(a, b); }, m); },
        deepEqual: function (a, b, m) { check(function () { assert.deepStrictEqual(a, b); }, m); },
        same: function (a, b, m) { check(function () { assert.deepStrictEqual(a, b); }, m); },
        ok: function (a, m) { check(function () { assert.ok(a); }, m); },
        notOk: function (a, m) { check(function () { assert.ok(!a); }, m); },
        throws: function (f, e, m) { check(function () { assert.throws(f); }, typeof e === 'string' ? e : m); },
    };
}

function run() {
    var next = queue.shift();
    if (!next) {
        console.log('1..' + count);
        process.exitCode = failed ? 1 : 0;
        return;
    }
    var t = makeT(next.name, function () { setImmediate(run); });
    try { next.fn(t); } catch (e) { report(false, next.name, e.stack); t.end(); }
}

module.exports = function test(name, fn) {
    if (queue.length === 0 && count === 0 && !module.exports.started) {
        module.exports.started = true;
        setImmediate(run);
    }
    queue.push({ name: name, fn: fn });
};
