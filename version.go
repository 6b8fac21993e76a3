package pcwebhook

// Version is the version of this library. The registration client sends it in its User-Agent
// header as "pcwebhook-go/<Version>".
const Version = "0.1.0"
