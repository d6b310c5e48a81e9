"""Ask TF Serving's REST API to classify a video's centre clip.

    python examples/tf_serving/rest_client.py video.mp4 --model s3dg [--url http://localhost:8501]
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from litert_predict import centre_clip  # noqa: E402


def request_body(clip):
    """TF Serving's row format: one instance per clip, the uint8 pixels as nested lists."""
    return json.dumps({"signature_name": "serving_default",
                       "instances": [{"video": clip.tolist()}]}).encode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("video")
    parser.add_argument("--model", required=True)
    parser.add_argument("--url", default="http://localhost:8501")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()

    clip = centre_clip(args.video, args.frames, args.size, args.size)
    request = urllib.request.Request(f"{args.url}/v1/models/{args.model}:predict",
                                     data=request_body(clip),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            prediction = json.load(response)["predictions"][0]
    except urllib.error.HTTPError as error:  # TF Serving says why in the body
        sys.exit(f"{args.url}: HTTP {error.code}: {error.read().decode(errors='replace')}")
    for label, score in zip(prediction["classes"], prediction["scores"]):
        print(f"{label}\t{score:.4f}")


if __name__ == "__main__":
    main()
