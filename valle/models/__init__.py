"""valle.models"""
