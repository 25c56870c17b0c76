// Peer for bench/tokenizer_bench.cc on the same machine: Hugging Face `tokenizers` (the Rust library,
// through its npm binding `tokenizers@0.23.2`) encoding the parity corpus, CPU time of 5 runs.
//   npm install --prefix /tmp/hf tokenizers@0.23.2
//   RAYON_NUM_THREADS=1 NODE_PATH=/tmp/hf/node_modules node bench/hf_tokenizers_bench.js \
//     ~/.cache/baleen/tokenizer-deepseek_v3/tokenizer.json tests/fixtures/tokenizer
const { Tokenizer } = require('tokenizers');
const fs = require('fs');
const [tokenizerFile, fixtures] = process.argv.slice(2);
const json = JSON.parse(fs.readFileSync(tokenizerFile, 'utf8'));
// The same tokenizer the parity ids were made with: V3's file + V4's added tokens.
json.added_tokens.push(...JSON.parse(fs.readFileSync(`${fixtures}/v4_added_tokens.json`, 'utf8')).added_tokens);
const tok = Tokenizer.fromString(JSON.stringify(json));
const texts = fs.readFileSync(`${fixtures}/corpus.jsonl`, 'utf8').split('\n').filter((l) => l.length)
  .map((l) => JSON.parse(l).text);
const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t, 'utf8'), 0);
(async () => {
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    const encodings = await tok.encodeBatch(texts, { addSpecialTokens: false });
    const c1 = process.cpuUsage(c0);
    const cpu = (c1.user + c1.system) / 1e6;
    const tokens = encodings.reduce((a, e) => a + e.getIds().length, 0);
    console.log(`run ${r}: ${cpu.toFixed(3)} s CPU, ${(bytes / cpu / 1e6).toFixed(2)} MB/s, ${tokens} tokens`);
  }
})();
