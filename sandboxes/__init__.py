"""Local stand-ins for the outside systems (Omnium, Tripletex), served over real HTTP on loopback."""
