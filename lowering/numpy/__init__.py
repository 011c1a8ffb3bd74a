"""lowering/numpy"""
