"""Image generation for the art personality: Stable Diffusion through diffusers, watermarked.

Nothing here imports torch or diffusers at module import time: only painting does.
"""
