"""The meeting service: accounts, meetings, sessions, the join gate, live enforcement,
signalling and notices. Services here use the pure domain (geo, jurisdictions, policy) and reach
storage only through the ports in ``lexloci.meetings.ports``."""
