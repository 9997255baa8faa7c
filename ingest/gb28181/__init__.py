"""GB/T 28181 signalling: SIP messages (``sip``), digest authentication (``digest``), MANSCDP bodies
(``manscdp``), UDP and TCP transport (``transport``), the platform devices register with (``platform``) and
the link up to the county's platform (``cascade``).

It is a small asyncio transaction layer of its own, covering what the standard's signalling uses: REGISTER
(as registrar, challenging and checking digests, and as client), MESSAGE, NOTIFY, OPTIONS. Of the Python SIP
libraries, aiosip has been unmaintained since 2017, and aiosipua (a young call-oriented UAS/UAC for voice
back-ends: INVITE dialogs, SDP, digest for outbound calls) centres on calls rather than on a registrar and
MANSCDP messaging; it is worth a look again for the media side (INVITE for live video)."""
