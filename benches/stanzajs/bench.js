#!/usr/bin/env node
// StanzaJS (npm `stanza`, pinned to 12.22.1 in package.json) Jingle <-> SDP conversion, timed on
// the same SDP file as tandem's `translations/benches/translate.rs`, so `benches/compare-stanzajs.sh`
// can print both rates side by side.
//
//   node bench.js FILE.sdp [--secs 3] [--warmup-secs 1] [--only a,b] [--show]
//
// Four measurements (names match the divan benches where they measure the same thing):
//
//   sdp_to_jingle_xml  SDP text -> Jingle XML text (the <jingle/> element).
//                      importFromSDP + convertIntermediateToRequest + sid/action/creator and the
//                      msid compatibility step exactly as MediaSession.start() does, then the
//                      client's own JXT registry export('iq.jingle', ...).toString() - the XML
//                      StanzaJS would put inside the <iq/> it sends.
//   jingle_xml_to_sdp  Jingle XML text (StanzaJS's own output of the step above) -> SDP text.
//                      jxt parse + registry.import (what the client does with a received <iq/>),
//                      then convertRequestToIntermediate + exportToSDP as
//                      MediaSession.onSessionInitiate() does.
//   sdp_to_jingle_obj  SDP text -> Jingle JSON object: the conversion alone, no XML.
//   jingle_obj_to_sdp  Jingle JSON object -> SDP text: the conversion alone, no XML.
//
// The *_xml pair is the text-in/text-out comparison with tandem; the *_obj pair shows how much of
// StanzaJS's time is its SDP mapping rather than its XML layer.
//
// Timing: a warm-up (default 1 s per measurement, lets V8 optimise), then samples of a fixed batch
// size (calibrated so one sample takes about 2 ms) until the budget (default 3 s per measurement)
// is spent. Reported per measurement, on one line each:
//
//   result name=... median_ns=... ops_per_sec=... mean_ns=... throughput_ops_per_sec=...
//          min_ns=... samples=... batch=... iterations=...
//
//   median_ns               median over samples of (sample time / batch): the statistic divan
//                           reports as "median", so it is comparable with tandem's figure
//   ops_per_sec             1e9 / median_ns
//   throughput_ops_per_sec  iterations / total measured time (GC pauses fully included)
//
// Before timing, each direction's output is checked (candidates, fingerprints, ICE credentials,
// m-lines survive); a failed check exits 1. --show prints one translation each way, the SDP lines
// lost in the round trip, and what StanzaJS does with an SDP that has no a=setup.
'use strict';

const fs = require('fs');
const path = require('path');

const { importFromSDP, exportToSDP } = require('stanza/jingle/sdp/Intermediate');
const {
    convertIntermediateToRequest,
    convertRequestToIntermediate
} = require('stanza/jingle/sdp/Protocol');
const JXT = require('stanza/jxt');
const Protocol = require('stanza/protocol');
const { NS_JINGLE_ICE_UDP_1 } = require('stanza/Namespaces');

const STANZA_VERSION = require('stanza/package.json').version;

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

function usage(msg) {
    if (msg) {
        console.error(`bench.js: ${msg}`);
    }
    console.error(
        'usage: node bench.js FILE.sdp [--secs 3] [--warmup-secs 1] [--only NAME[,NAME]] [--show]'
    );
    process.exit(2);
}

const opts = { file: undefined, secs: 3, warmupSecs: 1, only: undefined, show: false };
{
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            if (i + 1 >= argv.length) {
                usage(`${a} needs a value`);
            }
            return argv[++i];
        };
        if (a === '--secs') {
            opts.secs = Number(value());
        } else if (a === '--warmup-secs') {
            opts.warmupSecs = Number(value());
        } else if (a === '--only') {
            opts.only = value().split(',').filter(Boolean);
        } else if (a === '--show') {
            opts.show = true;
        } else if (a === '-h' || a === '--help') {
            usage();
        } else if (a.startsWith('-')) {
            usage(`unknown option ${a}`);
        } else if (opts.file === undefined) {
            opts.file = a;
        } else {
            usage(`unexpected argument ${a}`);
        }
    }
    if (opts.file === undefined) {
        usage('no SDP file given');
    }
    if (!(opts.secs > 0) || !(opts.warmupSecs >= 0)) {
        usage('--secs must be > 0 and --warmup-secs >= 0');
    }
}

// ---------------------------------------------------------------------------------------------
// StanzaJS, used the way its client uses it
// ---------------------------------------------------------------------------------------------

// The client's stanza registry: Client.js does `new JXT.Registry(); stanzas.define(protocol)`.
const registry = new JXT.Registry();
registry.define(Protocol.default);

const ROLE = 'initiator'; // we are the initiator sending session-initiate (tandem: Role::Initiator)
const TRANSPORT = NS_JINGLE_ICE_UDP_1; // ICESession's default transportType

// Copied from stanza 12.22.1 jingle/MediaSession.js (not exported there); MIT, (c) Lance Stout.
// MediaSession.start() applies it to every content before sending session-initiate.
function applyStreamsCompatibility(content) {
    const application = content.application;
    if (
        application.streams &&
        application.streams.length &&
        application.sources &&
        application.sources.length
    ) {
        const msid = application.streams[0];
        application.sources[0].parameters.msid = `${msid.id} ${msid.track}`;
        if (application.sourceGroups && application.sourceGroups.length > 0) {
            application.sources.push({
                parameters: {
                    cname: application.sources[0].parameters.cname,
                    msid: `${msid.id} ${msid.track}`
                },
                ssrc: application.sourceGroups[0].sources[1]
            });
        }
    }
}

// SDP text -> Jingle JSON (MediaSession.start()).
function sdpToJingleObj(sdp) {
    const json = importFromSDP(sdp);
    const jingle = convertIntermediateToRequest(json, ROLE, TRANSPORT);
    jingle.sid = 'sid';
    jingle.action = 'session-initiate';
    for (const content of jingle.contents || []) {
        content.creator = 'initiator';
        applyStreamsCompatibility(content);
    }
    return jingle;
}

// SDP text -> Jingle XML text.
function sdpToJingleXml(sdp) {
    return registry.export('iq.jingle', sdpToJingleObj(sdp)).toString();
}

// Jingle JSON -> SDP text (MediaSession.onSessionInitiate(); the sender is the initiator).
function jingleObjToSdp(jingle) {
    const json = convertRequestToIntermediate(jingle, ROLE);
    for (const media of json.media) {
        if (!media.streams) {
            media.streams = [{ stream: 'legacy', track: media.kind }];
        }
    }
    return exportToSDP(json);
}

// Jingle XML text -> SDP text.
function jingleXmlToSdp(xml) {
    const jingle = registry.import(JXT.parse(xml));
    if (!jingle) {
        throw new Error('registry did not recognise the Jingle XML');
    }
    return jingleObjToSdp(jingle);
}

// ---------------------------------------------------------------------------------------------
// Input and sanity checks
// ---------------------------------------------------------------------------------------------

const file = path.resolve(opts.file);
// Exactly the bytes tandem's bench gets (include_str!), line endings untouched: the `sdp` package
// StanzaJS uses splits on '\n' and trims, so LF-only and CRLF files both work.
const sdpText = fs.readFileSync(file, 'utf8');

const jingleXml = sdpToJingleXml(sdpText);
const jingleObj = sdpToJingleObj(sdpText);
const sdpFromXml = jingleXmlToSdp(jingleXml);
const sdpFromObj = jingleObjToSdp(jingleObj);

function count(re, s) {
    return (s.match(re) || []).length;
}

const expect = {
    candidates: count(/^a=candidate:/gm, sdpText),
    fingerprints: count(/^a=fingerprint:/gm, sdpText),
    mlines: count(/^m=/gm, sdpText),
    ufrags: count(/^a=ice-ufrag:/gm, sdpText)
};

const failures = [];
function check(what, got, want) {
    if (got !== want) {
        failures.push(`${what}: got ${got}, expected ${want}`);
    }
}
check('candidates in Jingle XML', count(/<candidate /g, jingleXml), expect.candidates);
check('fingerprints in Jingle XML', count(/<fingerprint /g, jingleXml), expect.fingerprints);
check('contents in Jingle XML', count(/<content creator=/g, jingleXml), expect.mlines);
check('ufrag= in Jingle XML', count(/ ufrag="/g, jingleXml), expect.ufrags);
check('candidates in Jingle JSON', jingleObj.contents.reduce((n, c) => n + c.transport.candidates.length, 0), expect.candidates);
for (const [what, out] of [
    ['SDP from XML', sdpFromXml],
    ['SDP from JSON', sdpFromObj]
]) {
    check(`a=candidate in ${what}`, count(/^a=candidate:/gm, out), expect.candidates);
    check(`a=fingerprint in ${what}`, count(/^a=fingerprint:/gm, out), expect.fingerprints);
    check(`m= lines in ${what}`, count(/^m=/gm, out), expect.mlines);
    check(`a=ice-ufrag in ${what}`, count(/^a=ice-ufrag:/gm, out), expect.ufrags);
}
// The two reverse paths must agree (o= carries a random session id: compare without it).
const withoutOrigin = s => s.replace(/^o=.*$/m, '');
if (withoutOrigin(sdpFromXml) !== withoutOrigin(sdpFromObj)) {
    failures.push('SDP from XML and SDP from JSON differ');
}

function lineSet(s) {
    return new Set(s.split(/\r?\n/).filter(Boolean));
}

if (opts.show) {
    const out = process.stdout;
    out.write(`# ---- input (${file}) ----\n${sdpText}`);
    out.write(`# ---- sdp_to_jingle_xml output (${jingleXml.length} bytes) ----\n${jingleXml}\n`);
    out.write(`# ---- jingle_xml_to_sdp output (from the XML above) ----\n${sdpFromXml}`);
    const inLines = lineSet(sdpText);
    const outLines = lineSet(sdpFromXml);
    const lost = [...inLines].filter(l => !outLines.has(l));
    const added = [...outLines].filter(l => !inLines.has(l));
    out.write(`# ---- input lines not in the round-tripped SDP (${lost.length}) ----\n`);
    for (const l of lost) out.write(`-${l}\n`);
    out.write(`# ---- round-tripped lines not in the input (${added.length}) ----\n`);
    for (const l of added) out.write(`+${l}\n`);

    out.write('# ---- the same SDP without a=setup lines ----\n');
    const noSetup = sdpText.replace(/^a=setup:.*\r?\n/gm, '');
    try {
        const xml = sdpToJingleXml(noSetup);
        out.write(`# converted (${xml.length} bytes)\n`);
    } catch (e) {
        out.write(`# importFromSDP throws: ${e.constructor.name}: ${e.message}\n`);
    }
    out.write('# ---- Jingle with no setup= on <fingerprint/> ----\n');
    const noSetupXml = jingleXml.replace(/ setup="[^"]*"/g, '');
    try {
        const sdp = jingleXmlToSdp(noSetupXml);
        out.write(`# converted: a=fingerprint lines ${count(/^a=fingerprint:/gm, sdp)}, a=setup lines ${count(/^a=setup:/gm, sdp)}\n`);
    } catch (e) {
        out.write(`# throws: ${e.constructor.name}: ${e.message}\n`);
    }
}

if (failures.length) {
    for (const f of failures) console.error(`bench.js: sanity check failed: ${f}`);
    process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

const BENCHES = [
    {
        name: 'sdp_to_jingle_xml',
        what: 'SDP text -> Jingle XML text (importFromSDP, convertIntermediateToRequest, JXT export + toString)',
        fn: () => sdpToJingleXml(sdpText).length
    },
    {
        name: 'jingle_xml_to_sdp',
        what: 'Jingle XML text -> SDP text (JXT parse + import, convertRequestToIntermediate, exportToSDP)',
        fn: () => jingleXmlToSdp(jingleXml).length
    },
    {
        name: 'sdp_to_jingle_obj',
        what: 'SDP text -> Jingle JSON object (importFromSDP, convertIntermediateToRequest; no XML)',
        fn: () => sdpToJingleObj(sdpText).contents.length
    },
    {
        name: 'jingle_obj_to_sdp',
        what: 'Jingle JSON object -> SDP text (convertRequestToIntermediate, exportToSDP; no XML)',
        fn: () => jingleObjToSdp(jingleObj).length
    }
];

let sink = 0; // results feed this so V8 cannot drop the work

const now = () => process.hrtime.bigint();

function runBatch(fn, n) {
    const t0 = now();
    for (let i = 0; i < n; i++) {
        sink += fn();
    }
    return Number(now() - t0);
}

const SAMPLE_TARGET_NS = 2e6;

function measure(fn) {
    // Warm-up, and find a batch size that takes about SAMPLE_TARGET_NS.
    let batch = 1;
    const warmupEnd = Date.now() + opts.warmupSecs * 1000;
    do {
        const ns = runBatch(fn, batch);
        if (ns < SAMPLE_TARGET_NS) {
            batch = Math.min(batch * 2, 1 << 20);
        } else if (ns > 4 * SAMPLE_TARGET_NS && batch > 1) {
            batch = Math.max(1, batch >> 1);
        }
    } while (Date.now() < warmupEnd);
    // Re-calibrate on the warm code.
    const per = runBatch(fn, batch) / batch;
    batch = Math.max(1, Math.round(SAMPLE_TARGET_NS / per));

    const perOp = [];
    let totalNs = 0;
    let iterations = 0;
    const budgetNs = opts.secs * 1e9;
    while (totalNs < budgetNs) {
        const ns = runBatch(fn, batch);
        totalNs += ns;
        iterations += batch;
        perOp.push(ns / batch);
    }
    perOp.sort((a, b) => a - b);
    const mid = perOp.length >> 1;
    const median = perOp.length % 2 ? perOp[mid] : (perOp[mid - 1] + perOp[mid]) / 2;
    return {
        median_ns: median,
        ops_per_sec: 1e9 / median,
        mean_ns: totalNs / iterations,
        throughput_ops_per_sec: (iterations * 1e9) / totalNs,
        min_ns: perOp[0],
        samples: perOp.length,
        batch,
        iterations
    };
}

const fmt = x => (Number.isInteger(x) ? String(x) : x.toFixed(1));

console.log(
    `# StanzaJS ${STANZA_VERSION}, node ${process.version}, input ${file} (${Buffer.byteLength(sdpText)} bytes, ` +
        `${expect.mlines} m-lines, ${expect.candidates} candidates), ${opts.secs} s per measurement after ${opts.warmupSecs} s warm-up`
);
console.log(`# output checked: Jingle XML ${jingleXml.length} bytes, SDP back ${sdpFromXml.length} bytes`);
for (const b of BENCHES) {
    if (opts.only && !opts.only.includes(b.name)) {
        continue;
    }
    console.log(`# ${b.name}: ${b.what}`);
    const r = measure(b.fn);
    const fields = Object.entries(r)
        .map(([k, v]) => `${k}=${fmt(v)}`)
        .join(' ');
    console.log(`result name=${b.name} ${fields}`);
}
if (sink === 0) {
    console.error('bench.js: nothing was computed');
    process.exit(1);
}
