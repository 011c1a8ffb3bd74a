"""fuse.dialects"""
