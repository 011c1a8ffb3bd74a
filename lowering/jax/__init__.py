"""lowering/jax"""
