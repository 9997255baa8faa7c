"""GB/T 28181 signalling: SIP messages (``sip``), digest authentication (``digest``), MANSCDP bodies
(``manscdp``), UDP and TCP transport (``transport``), the platform devices register with (``platform``) and
the link up to the county's platform (``cascade``). No Python SIP library covered GB/T 28181's needs well
enough (aiosip is unmaintained since 2017; the newer micro-libraries are VoIP call stacks), so this is a
small asyncio transaction layer for what the standard uses: REGISTER, MESSAGE, NOTIFY, OPTIONS."""
