console.log('agent-tether');
