"""Status callbacks: what an organisation's webhook endpoints are told, how a delivery is signed,
when it is tried again, and which URLs may receive it. Pure: no I/O."""
