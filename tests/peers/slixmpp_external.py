"""Logs in to tandem with slixmpp over SASL EXTERNAL (XEP-0178) with a client certificate.

usage: slixmpp_external.py JID CERTFILE KEYFILE CAFILE HOST PORT
Prints "bound <full jid> via <mechanism>" and exits 0 on success; prints "auth failed"
and exits 2 when authentication fails; exits 3 on timeout.
"""
import asyncio
import sys

import slixmpp


class CertClient(slixmpp.ClientXMPP):
    def __init__(self, jid, certfile, keyfile, cafile):
        # No password anywhere: the certificate is the credential.
        super().__init__(jid, "")
        self.certfile = certfile
        self.keyfile = keyfile
        self.ca_certs = cafile
        self['feature_mechanisms'].use_mech = 'EXTERNAL'
        self.result = None
        self.add_event_handler("session_start", self.on_session)
        self.add_event_handler("failed_auth", self.on_failed)
        self.add_event_handler("auth_success", self.on_auth)
        self.mechanism = None

    def on_auth(self, _event):
        self.mechanism = self['feature_mechanisms'].mech.name

    async def on_session(self, _event):
        print(f"bound {self.boundjid.full} via {self.mechanism}", flush=True)
        self.result = 0
        self.disconnect()

    def on_failed(self, _event):
        print("auth failed", flush=True)
        self.result = 2
        self.disconnect()


async def main():
    jid, certfile, keyfile, cafile, host, port = sys.argv[1:7]
    client = CertClient(jid, certfile, keyfile, cafile)
    client.connect((host, int(port)))
    for _ in range(150):
        if client.result is not None:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.1)
    return 3 if client.result is None else client.result


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
