"""Vendor plans and the traffic limit: the distinct signed-in buyers a store may serve per plan
period."""
