"""Small ports to SES and SQS, each with a real adapter and an in-memory fake."""
